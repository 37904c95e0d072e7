"""Graph as it really behaves (issue 15): expired page tokens, eventual consistency,
stricter writes, known issue 1, $batch dependsOn, the recycle bin as a holder, gzip,
the x-ms-throttle-scope Limit part, and the cautious defaults (delta does not report a
change of the provisioning errors alone; soft match is blocked)."""

import gzip
import json
import unittest

from simtest import CONTOSO, WRITER, SimTestCase, load_scenario, q

MANAGER = "3c4d5e6f-7081-4b1c-9dae-2f3a4b5c6d7e"


class RealBehaviourTest(SimTestCase):
    scenario = "demo.json"

    def settings(self, **kw):
        return self.control("POST", "tenants/%s/settings" % CONTOSO, kw)

    def writer(self):
        return self.token(client_id=WRITER, secret="writer-secret")

    def uid(self, upn):
        reply = self.graph("GET", "/users/" + upn)
        self.assertEqual(reply.status, 200, reply.raw)
        return reply.json["id"]

    # ----- expired page tokens -------------------------------------------------------------
    def test_expired_page_token_mid_paging(self):
        token = self.token()
        first = self.graph("GET", "/users?$select=id&$top=5", token).json
        self.assertIn("@odata.nextLink", first)
        self.control("POST", "faults", {"kind": "expired-page-token", "count": 1})
        # The first page of a new listing carries no page token and is served.
        self.assertEqual(self.graph("GET", "/users?$select=id&$top=5", token).status, 200)
        err = self.assertGraphError(self.graph("GET", first["@odata.nextLink"], token), 400,
                                    "Directory_ExpiredPageToken")
        self.assertIn("expired", err["message"])
        # Restarting the listing works.
        items, pages = self.get_all("/users?$select=id&$top=5", token)
        self.assertEqual((len(items), pages), (29, 6))

    def test_token_revoked_mid_paging(self):
        token = self.token()
        first = self.graph("GET", "/users?$select=id&$top=5", token).json
        self.control("POST", "faults", {"kind": "revoked-token", "count": 1})
        # A first page carries no page token and is served.
        self.assertEqual(self.graph("GET", "/users?$select=id&$top=5", token).status, 200)
        self.assertGraphError(self.graph("GET", first["@odata.nextLink"], token), 401,
                              "InvalidAuthenticationToken")
        # The token stays revoked; a new one reads every page.
        self.assertGraphError(self.graph("GET", "/users?$select=id&$top=5", token), 401,
                              "InvalidAuthenticationToken")
        items, pages = self.get_all("/users?$select=id&$top=5", self.token())
        self.assertEqual((len(items), pages), (29, 6))

    # ----- eventual consistency ------------------------------------------------------------
    def test_consistent_by_default(self):
        result = self.control("POST", "tenants/%s/export" % CONTOSO, {
            "objectType": "user", "sourceAnchor": "TmV3VXNlckxhZzAwMDAwMA==",
            "userPrincipalName": "lag@contoso.com", "proxyAddresses": ["SMTP:lag@contoso.com"]})
        self.assertEqual(self.graph("GET", "/users/" + result["value"][0]["id"]).status, 200)

    def test_just_created_object_answers_404_then_appears(self):
        self.settings(eventualConsistencyReads=2)
        created = self.control("POST", "tenants/%s/export" % CONTOSO, {
            "objectType": "user", "sourceAnchor": "TmV3VXNlckxhZzAwMDAwMA==",
            "userPrincipalName": "lag@contoso.com",
            "proxyAddresses": ["SMTP:lag@contoso.com"]})["value"][0]
        token = self.token()
        path = "/users/%s?$select=id,userPrincipalName" % created["id"]
        self.assertGraphError(self.graph("GET", path, token), 404, "Request_ResourceNotFound")
        # $filter lags too: the holder of the address is not found yet.
        flt = "/users?$select=id&$filter=" + q("proxyAddresses/any(x:x eq 'smtp:lag@contoso.com')")
        self.assertEqual(self.graph("GET", flt, token).json["value"], [])
        self.assertEqual(self.graph("GET", path, token).status, 200)
        self.assertEqual(len(self.graph("GET", flt, token).json["value"]), 1)

    def test_read_after_patch_is_stale(self):
        self.settings(eventualConsistencyReads=1)
        uid = self.uid("adam@contoso.com")
        self.assertEqual(self.graph("PATCH", "/users/" + uid, self.writer(),
                                    {"onPremisesImmutableId": "QWRhbUFuY2hvcjAwMDAwMA=="}).status, 204)
        path = "/users/%s?$select=onPremisesImmutableId" % uid
        self.assertIsNone(self.graph("GET", path).json["onPremisesImmutableId"])
        self.assertEqual(self.graph("GET", path).json["onPremisesImmutableId"],
                         "QWRhbUFuY2hvcjAwMDAwMA==")

    # ----- stricter writes -----------------------------------------------------------------
    def test_manage_identities_cannot_write_immutable_id(self):
        self.control("POST", "tenants/%s/apps" % CONTOSO, {
            "clientId": MANAGER, "secret": "manager-secret", "roles": ["User.ManageIdentities.All"]})
        token = self.token(client_id=MANAGER, secret="manager-secret")
        uid = self.uid("adam@contoso.com")
        self.assertGraphError(self.graph("PATCH", "/users/" + uid, token,
                                         {"onPremisesImmutableId": "QWRhbUFuY2hvcjAwMDAwMA=="}),
                              403, "Authorization_RequestDenied")
        self.assertFalse(self.control("GET", "writes")["value"][0]["applied"])

    def test_federated_domain_refused(self):
        uid = self.uid("adam@contoso.com")
        self.settings(federatedDomains=["contoso.com"])
        err = self.assertGraphError(self.graph("PATCH", "/users/" + uid, self.writer(),
                                               {"onPremisesImmutableId": "QWRhbUFuY2hvcjAwMDAwMA=="}),
                                    400, "Request_BadRequest")
        self.assertIn("federated", err["message"])
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"federatedDomains": "contoso.com"},
                     expect=400)

    def test_domains_say_which_are_federated(self):
        self.settings(federatedDomains=["contoso.com"])
        self.control("POST", "tenants/%s/apps" % CONTOSO, {
            "clientId": MANAGER, "secret": "manager-secret", "roles": ["Domain.Read.All"]})
        token = self.token(client_id=MANAGER, secret="manager-secret")
        reply = self.graph("GET", "/domains/contoso.com", token)
        self.assertEqual(reply.status, 200, reply.raw)
        self.assertEqual(reply.json["authenticationType"], "Federated")
        managed = self.graph("GET", "/domains/contoso.onmicrosoft.com", token).json
        self.assertEqual(managed["authenticationType"], "Managed")
        self.assertEqual(len(self.graph("GET", "/domains", token).json["value"]), 2)
        self.assertGraphError(self.graph("GET", "/domains/nowhere.example", token), 404,
                              "Request_ResourceNotFound")
        # The monitor's read permissions do not cover domains.
        self.assertGraphError(self.graph("GET", "/domains/contoso.com"), 403,
                              "Authorization_RequestDenied")

    # ----- $batch dependsOn ----------------------------------------------------------------
    def test_batch_depends_on_failed_request_gets_424(self):
        body = {"requests": [
            {"id": "1", "method": "GET", "url": "/users/nobody@contoso.com"},
            {"id": "2", "method": "GET", "url": "/users/adam@contoso.com", "dependsOn": ["1"]},
            {"id": "3", "method": "GET", "url": "/users/adam@contoso.com"}]}
        responses = {r["id"]: r for r in self.graph("POST", "/$batch", body=body).json["responses"]}
        self.assertEqual((responses["1"]["status"], responses["2"]["status"],
                          responses["3"]["status"]), (404, 424, 200))
        self.settings(batchDependsOn=False)
        responses = {r["id"]: r for r in self.graph("POST", "/$batch", body=body).json["responses"]}
        self.assertEqual(responses["2"]["status"], 200)

    # ----- recycle bin ---------------------------------------------------------------------
    def test_soft_deleted_user_holds_values_and_is_listed_in_deleted_items(self):
        uid = self.uid("adam@contoso.com")
        self.control("DELETE", "tenants/%s/objects/%s?mode=soft" % (CONTOSO, uid))
        self.assertEqual(self.graph("GET", "/users/" + uid).status, 404)
        reply = self.graph("GET", "/directory/deletedItems/microsoft.graph.user?$filter=" +
                           q("userPrincipalName eq 'adam@contoso.com'") +
                           "&$select=id,userPrincipalName,deletedDateTime")
        self.assertEqual(reply.status, 200, reply.raw)
        (item,) = reply.json["value"]
        self.assertEqual((item["id"], item["@odata.type"]), (uid, "#microsoft.graph.user"))
        self.assertTrue(item["deletedDateTime"])
        groups = self.graph("GET", "/directory/deletedItems/microsoft.graph.group").json["value"]
        self.assertEqual(groups, [])
        # While in the recycle bin it still holds the UPN: a new export is quarantined.
        result = self.control("POST", "tenants/%s/export" % CONTOSO, {
            "objectType": "user", "sourceAnchor": "QWRhbU5ldzAwMDAwMDAwMA==",
            "userPrincipalName": "adam@contoso.com", "proxyAddresses": []})["value"][0]
        self.assertIn({"property": "UserPrincipalName", "value": "adam@contoso.com"},
                      result["quarantined"])

    # ----- transport -----------------------------------------------------------------------
    def test_gzip_when_asked(self):
        reply = self.graph("GET", "/users?$select=id", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(reply.header("Content-Encoding"), "gzip")
        self.assertIn("value", json.loads(gzip.decompress(reply.raw)))
        plain = self.graph("GET", "/users?$select=id")
        self.assertIsNone(plain.header("Content-Encoding"))
        self.settings(gzipWhenAsked=False)
        reply = self.graph("GET", "/users?$select=id", headers={"Accept-Encoding": "gzip"})
        self.assertIsNone(reply.header("Content-Encoding"))
        logged = self.control("GET", "requests")["value"]
        self.assertEqual(logged[-1]["headers"].get("accept-encoding"), "gzip")

    def test_injected_429_scope_limit_part(self):
        self.control("POST", "faults", {"kind": "429", "count": 1})
        reply = self.graph("GET", "/users?$select=id")
        self.assertEqual(reply.status, 429)
        self.assertIn(reply.header("x-ms-throttle-scope").split("/")[1],
                      ("Read", "Write", "ReadWrite"))

    # ----- cautious defaults ---------------------------------------------------------------
    def test_cautious_defaults(self):
        current = self.control("GET", "tenants/%s/settings" % CONTOSO)
        self.assertIs(current["deltaTracksProvisioningErrors"], False)
        self.assertIs(current["blockSoftMatchEnabled"], True)
        self.assertNotIn("User.ManageIdentities.All", current["writeRoles"])

    def test_soft_match_blocked_unless_opted_in(self):
        data = load_scenario("two-synced-proxy.json")
        data["tenants"][0]["exports"] = []
        export = {"objectType": "user", "sourceAnchor": "WmVkT25QcmVtMDAwMDAwMA==",
                  "userPrincipalName": "zed@contoso.com",
                  "proxyAddresses": ["SMTP:zed@contoso.com"]}
        for settings, outcome in (({}, "created"), ({"blockSoftMatchEnabled": False},
                                                    "soft-matched")):
            data["tenants"][0]["settings"] = settings
            self.load(data)
            cloud = self.control("POST", "tenants/%s/objects" % CONTOSO, {
                "objectType": "user", "userPrincipalName": "zed@contoso.com",
                "proxyAddresses": ["SMTP:zed@contoso.com"]}, expect=201)["id"]
            result = self.control("POST", "tenants/%s/export" % CONTOSO, export)["value"][0]
            self.assertEqual(result["result"], outcome)
            self.assertEqual(result["id"] == cloud, outcome == "soft-matched")


if __name__ == "__main__":
    unittest.main()
