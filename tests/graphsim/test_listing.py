"""Graph reads: $select, $top, paging, $filter forms, advanced queries, single objects."""

import unittest

from simtest import CONTOSO, SimTestCase, q

PE = "onPremisesProvisioningErrors/any(o:o/category eq 'PropertyConflict')"
SEL = "$select=id,userPrincipalName,proxyAddresses,onPremisesProvisioningErrors"


class ListingTest(SimTestCase):
    scenario = "demo.json"

    def test_select_only_properties_are_absent_by_default(self):
        user = self.graph("GET", "/users?$top=1").json["value"][0]
        self.assertEqual(set(user), {"businessPhones", "displayName", "givenName", "id", "jobTitle",
                                     "mail", "mobilePhone", "officeLocation", "preferredLanguage",
                                     "surname", "userPrincipalName"})
        for prop in ("proxyAddresses", "onPremisesProvisioningErrors", "onPremisesImmutableId",
                     "onPremisesSyncEnabled", "onPremisesLastSyncDateTime"):
            self.assertNotIn(prop, user)
        user = self.graph("GET", "/users?$top=1&$select=Id,ProxyAddresses,onPremisesSyncEnabled").json["value"][0]
        self.assertEqual(set(user), {"id", "proxyAddresses", "onPremisesSyncEnabled"})
        group = self.graph("GET", "/groups?$top=1").json["value"][0]
        self.assertIn("proxyAddresses", group)
        self.assertIn("onPremisesProvisioningErrors", group)
        self.assertEqual(group["onPremisesProvisioningErrors"], [])

    def test_unknown_select_property(self):
        self.assertGraphError(self.graph("GET", "/users?$select=id,nosuch"), 400, "Request_BadRequest")
        # Groups have no onPremisesImmutableId in v1.0.
        self.assertGraphError(self.graph("GET", "/groups?$select=onPremisesImmutableId"), 400,
                              "Request_BadRequest")

    def test_top_limits(self):
        err = self.assertGraphError(self.graph("GET", "/users?$top=1000"), 400,
                                    "Request_UnsupportedQuery")
        self.assertEqual(err["message"], "Invalid page size specified: '1000'. Must be between 1 "
                                         "and 999 inclusive.")
        self.assertEqual(self.graph("GET", "/users?$top=0").status, 400)
        self.assertEqual(self.graph("GET", "/users?$top=999").status, 200)
        self.assertGraphError(self.graph("GET", "/users?$skip=5"), 400, "Request_BadRequest")

    def test_default_page_size_is_100(self):
        body = self.graph("GET", "/users").json
        self.assertEqual(len(body["value"]), 29)
        self.assertNotIn("@odata.nextLink", body)

    def test_paging_returns_every_object_exactly_once(self):
        everything = self.graph("GET", "/users?$top=999&$select=id").json["value"]
        items, pages = self.get_all("/users?$top=5&$select=id")
        self.assertEqual(pages, 6)
        self.assertEqual([u["id"] for u in items], [u["id"] for u in everything])
        for coll in ("groups", "contacts"):
            items, pages = self.get_all("/%s?$top=3" % coll)
            self.assertEqual(len(items), 8)
            self.assertEqual(len({i["id"] for i in items}), 8)
            self.assertGreater(pages, 2)

    def test_next_link_is_opaque_and_bound_to_its_query(self):
        body = self.graph("GET", "/users?$top=5&$select=id").json
        link = body["@odata.nextLink"]
        self.assertTrue(link.startswith(self.base + "/v1.0/users?"))
        token = link.split("$skiptoken=")[1]
        self.assertEqual(self.graph("GET", "/users?$top=5&$select=id,mail&$skiptoken=" + token).status, 400)
        self.assertGraphError(self.graph("GET", "/users?$top=5&$select=id&$skiptoken=" + token[:-3] + "AAA"),
                              400, "Request_BadRequest")

    def test_provisioning_error_filter_on_every_collection(self):
        users, _ = self.get_all("/users?$filter=%s&%s&$top=1" % (q(PE), SEL))
        self.assertEqual(len(users), 3)
        for user in users:
            self.assertTrue(user["onPremisesProvisioningErrors"])
        groups, _ = self.get_all("/groups?$filter=%s" % q(PE))
        self.assertEqual([g["displayName"] for g in groups], ["Chris list"])
        contacts, _ = self.get_all("/contacts?$filter=%s" % q(PE))
        self.assertEqual(sorted(c["displayName"] for c in contacts), ["Eli (partner)", "Helpdesk (vendor)"])

    def test_property_causing_error_filter(self):
        upn, _ = self.get_all("/users?$filter=%s&%s" % (
            q("onPremisesProvisioningErrors/any(o:o/propertyCausingError eq 'UserPrincipalName')"), SEL))
        self.assertEqual(len(upn), 2)
        for user in upn:
            self.assertRegex(user["userPrincipalName"], r"^[a-z]+\d{4}@contoso\.onmicrosoft\.com$")
        proxy, _ = self.get_all("/users?$filter=%s&%s" % (
            q("onPremisesProvisioningErrors/any(o:o/propertyCausingError eq 'ProxyAddresses')"), SEL))
        self.assertEqual(len(proxy), 3)

    def test_lookup_filters(self):
        def one(coll, flt, select="id,userPrincipalName,mail,proxyAddresses,onPremisesImmutableId"):
            if coll != "users":
                select = "id,displayName,mail,proxyAddresses"
            reply = self.graph("GET", "/%s?$filter=%s&$select=%s" % (coll, q(flt), select))
            self.assertEqual(reply.status, 200, reply.raw)
            return reply.json["value"]

        self.assertEqual(len(one("users", "userPrincipalName eq 'ADAM@contoso.com'")), 1)
        self.assertEqual(len(one("users", "mail eq 'adam@contoso.com'")), 2)
        holders = one("users", "proxyAddresses/any(x:x eq 'smtp:beth@contoso.com')")
        self.assertEqual([h["userPrincipalName"] for h in holders], ["beth@contoso.com"])
        self.assertEqual(len(one("groups", "proxyAddresses/any(x:x eq 'SMTP:helpdesk@contoso.com')")), 1)
        self.assertEqual(len(one("contacts", "proxyAddresses/any(x:x eq 'SMTP:eli@partner.example')")), 1)
        # The contact's quarantined address is not in its proxyAddresses.
        self.assertEqual(one("contacts", "proxyAddresses/any(x:x eq 'smtp:eli@contoso.com')"), [])
        self.assertEqual(len(one("users", "onPremisesImmutableId eq 'RGVtb0FuY2hvcjA001AA=='")), 1)
        ids = [u["id"] for u in self.graph("GET", "/users?$top=3&$select=id").json["value"]]
        found = one("users", "id in ('%s')" % "','".join(ids))
        self.assertEqual(sorted(u["id"] for u in found), sorted(ids))
        combined = one("users", "userPrincipalName eq 'adam@contoso.com' or proxyAddresses/any(x:x eq 'SMTP:adam@contoso.com')")
        self.assertEqual(len(combined), 1)
        # adam@contoso.com and the placeholder adam####@contoso.onmicrosoft.com
        self.assertEqual(len(one("users", "startsWith(userPrincipalName,'ad')")), 2)

    def test_proxy_filter_case_switch(self):
        flt = q("proxyAddresses/any(x:x eq 'smtp:BETH@contoso.com')")
        self.assertEqual(len(self.graph("GET", "/users?$filter=" + flt).json["value"]), 1)
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"proxyAddressFilterCaseInsensitive": False})
        self.assertEqual(len(self.graph("GET", "/users?$filter=" + flt).json["value"]), 0)

    def test_mail_in_proxy_addresses_switch(self):
        """By default a group keeps the proxyAddresses it is given, so only mail eq finds
        an address that is its mail alone; with mailInProxyAddresses the address is added
        to its proxyAddresses, and proxyAddresses eq finds it too."""
        def made(mail):
            gid = self.control("POST", "tenants/%s/objects" % CONTOSO, {
                "objectType": "group", "displayName": mail, "mail": mail,
                "proxyAddresses": []}, expect=201)["id"]
            by_proxy = self.graph("GET", "/groups?$select=id,proxyAddresses&$filter=" + q(
                "proxyAddresses/any(x:x eq 'SMTP:%s')" % mail)).json["value"]
            by_mail = self.graph("GET", "/groups?$select=id&$filter=" + q(
                "mail eq '%s'" % mail)).json["value"]
            return gid, by_proxy, by_mail

        gid, by_proxy, by_mail = made("lists@contoso.com")
        self.assertEqual(by_proxy, [])
        self.assertEqual([g["id"] for g in by_mail], [gid])
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"mailInProxyAddresses": True})
        gid, by_proxy, by_mail = made("news@contoso.com")
        self.assertEqual([(g["id"], g["proxyAddresses"]) for g in by_proxy],
                         [(gid, ["SMTP:news@contoso.com"])])
        self.assertEqual([g["id"] for g in by_mail], [gid])

    def test_unsupported_filters(self):
        for flt in ("jobTitle eq 'x'", "onPremisesProvisioningErrors/any(o:o/value eq 'x')",
                    "onPremisesProvisioningErrors/any(o:o/category eq null)",
                    "proxyAddresses/any(x:x ge 'a')"):
            reply = self.graph("GET", "/users?$filter=" + q(flt))
            self.assertIn(reply.status, (400,), flt)
            self.assertIn(reply.json["error"]["code"], ("Request_UnsupportedQuery", "BadRequest"), flt)
        self.assertGraphError(self.graph("GET", "/users?$filter=" + q("jobTitle eq 'x'")), 400,
                              "Request_UnsupportedQuery")
        self.assertGraphError(self.graph("GET", "/users?$filter=" + q("userPrincipalName eq")), 400,
                              "BadRequest")

    def test_advanced_queries_need_consistency_level_and_count(self):
        flt = q("endsWith(userPrincipalName,'contoso.com')")
        err = self.assertGraphError(self.graph("GET", "/users?$filter=" + flt), 400, "Request_UnsupportedQuery")
        self.assertIn("ConsistencyLevel", err["message"])
        self.assertEqual(self.graph("GET", "/users?$filter=%s&$count=true" % flt).status, 400)
        headers = {"ConsistencyLevel": "eventual"}
        body = self.graph("GET", "/users?$filter=%s&$count=true&$top=5" % flt, headers=headers).json
        self.assertEqual(body["@odata.count"], 27)  # 29 users, 2 placeholders
        second = self.graph("GET", body["@odata.nextLink"], headers=headers).json
        self.assertNotIn("@odata.count", second)
        # The header is not carried over by the nextLink: without it the next page fails.
        self.assertEqual(self.graph("GET", body["@odata.nextLink"]).status, 400)
        not_flt = q("not(onPremisesSyncEnabled eq true)")
        self.assertEqual(self.graph("GET", "/users?$filter=" + not_flt).status, 400)
        body = self.graph("GET", "/users?$filter=%s&$count=true" % not_flt, headers=headers).json
        self.assertEqual(len(body["value"]), 9)

    def test_count_is_ignored_without_consistency_level(self):
        body = self.graph("GET", "/users?$count=true").json
        self.assertNotIn("@odata.count", body)
        self.assertEqual(self.graph("GET", "/users/$count").status, 400)
        reply = self.graph("GET", "/users/$count", headers={"ConsistencyLevel": "eventual"})
        self.assertEqual(reply.raw, b"29")

    def test_provisioning_error_filter_switch(self):
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"provisioningErrorFilter": "unsupported"})
        for coll in ("users", "groups", "contacts"):
            self.assertGraphError(self.graph("GET", "/%s?$filter=%s" % (coll, q(PE))), 400,
                                  "Request_UnsupportedQuery")
        # The client-side fallback still works: a full scan with $select.
        items, _ = self.get_all("/users?$select=id,onPremisesProvisioningErrors&$top=999")
        self.assertEqual(sum(1 for i in items if i["onPremisesProvisioningErrors"]), 3)

    def test_ne_null_form_of_microsofts_cmdlet(self):
        flt = q("onPremisesProvisioningErrors/any(o:o/category ne null)")
        self.assertEqual(self.graph("GET", "/users?$filter=" + flt).status, 400)
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"provisioningErrorNeNullWithoutAdvanced": True})
        self.assertEqual(len(self.graph("GET", "/users?$filter=" + flt).json["value"]), 3)

    def test_get_single_object(self):
        user = self.graph("GET", "/users/adam@contoso.com?$select=id,onPremisesSyncEnabled").json
        self.assertIsNone(user["onPremisesSyncEnabled"])
        again = self.graph("GET", "/users/%s" % user["id"]).json
        self.assertEqual(again["userPrincipalName"], "adam@contoso.com")
        self.assertGraphError(self.graph("GET", "/users/00000000-0000-0000-0000-000000000000"), 404,
                              "Request_ResourceNotFound")
        group = self.graph("GET", "/groups?$top=1").json["value"][0]
        self.assertEqual(self.graph("GET", "/groups/" + group["id"]).json["id"], group["id"])

    def test_response_headers(self):
        reply = self.graph("GET", "/users?$top=1", headers={"client-request-id": "abc-123"})
        self.assertEqual(reply.header("client-request-id"), "abc-123")
        self.assertTrue(reply.header("request-id"))
        self.assertTrue(reply.header("Content-Type").startswith("application/json;odata.metadata=minimal"))


if __name__ == "__main__":
    unittest.main()
