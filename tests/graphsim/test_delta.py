"""Delta query: rounds, deltaLink, $deltatoken=latest, @removed, $select tracking, the
provisioning-error tracking switch, expiry (410 syncStateNotFound)."""

import unittest
import urllib.parse

from simtest import CONTOSO, SimTestCase

SEL = "id,userPrincipalName,proxyAddresses,onPremisesProvisioningErrors"


class DeltaTest(SimTestCase):
    scenario = "demo.json"

    def round(self, url, headers=None):
        """Follow nextLinks until the deltaLink; returns (items, deltaLink, pages)."""
        items, pages = [], 0
        while True:
            reply = self.graph("GET", url, headers=headers)
            self.assertEqual(reply.status, 200, reply.raw[:400])
            body = reply.json
            items += body["value"]
            pages += 1
            if "@odata.nextLink" in body:
                self.assertNotIn("@odata.deltaLink", body)
                url = body["@odata.nextLink"]
                continue
            return items, body["@odata.deltaLink"], pages

    def test_initial_round_pages_and_ends_with_a_delta_link(self):
        for coll, count in (("users", 29), ("groups", 8), ("contacts", 8)):
            items, link, pages = self.round("/%s/delta?$select=id,displayName" % coll,
                                            {"Prefer": "odata.maxpagesize=5"})
            self.assertEqual(len(items), count)
            self.assertEqual(len({i["id"] for i in items}), count)
            self.assertGreater(pages, 1)
            self.assertIn("$deltatoken=", link)
            again, _, _ = self.round(link)
            self.assertEqual(again, [])

    def test_changes_removals_and_select_tracking(self):
        _, link, _ = self.round("/users/delta?$select=" + SEL)
        beth = self.graph("GET", "/users/beth@contoso.com").json
        adam = self.graph("GET", "/users/adam@contoso.com").json
        chris = self.graph("GET", "/users/chris@contoso.com").json
        self.control("PATCH", "tenants/%s/objects/%s" % (CONTOSO, beth["id"]),
                     {"proxyAddresses": ["SMTP:beth@contoso.com", "smtp:b@contoso.com"]})
        self.control("PATCH", "tenants/%s/objects/%s" % (CONTOSO, chris["id"]), {"jobTitle": "CTO"})
        self.control("DELETE", "tenants/%s/objects/%s?mode=hard" % (CONTOSO, adam["id"]))
        dana = self.graph("GET", "/users/dana@contoso.com").json
        self.control("DELETE", "tenants/%s/objects/%s?mode=soft" % (CONTOSO, dana["id"]))
        items, link2, _ = self.round(link)
        by_id = {i["id"]: i for i in items}
        self.assertEqual(by_id[beth["id"]]["proxyAddresses"], ["SMTP:beth@contoso.com", "smtp:b@contoso.com"])
        self.assertNotIn(chris["id"], by_id, "jobTitle is not selected, so not tracked")
        self.assertEqual(by_id[adam["id"]], {"id": adam["id"], "@removed": {"reason": "deleted"}})
        self.assertEqual(by_id[dana["id"]], {"id": dana["id"], "@removed": {"reason": "changed"}})
        # The sweep releasing adam's conflict shows up on the next round.
        self.control("POST", "clock/advance", {"seconds": 3600})
        items, _, _ = self.round(link2)
        released = [i for i in items if i.get("userPrincipalName") == "adam@contoso.com"]
        self.assertEqual(len(released), 1)
        self.assertEqual(released[0]["onPremisesProvisioningErrors"], [])

    def test_prefer_return_minimal(self):
        _, link, _ = self.round("/users/delta?$select=" + SEL)
        beth = self.graph("GET", "/users/beth@contoso.com").json
        self.control("PATCH", "tenants/%s/objects/%s" % (CONTOSO, beth["id"]), {"proxyAddresses": []})
        items, _, _ = self.round(link, {"Prefer": "return=minimal"})
        self.assertEqual(items, [{"id": beth["id"], "proxyAddresses": []}])

    def test_deltatoken_latest(self):
        body = self.graph("GET", "/users/delta?$deltatoken=latest&$select=" + SEL).json
        self.assertEqual(body["value"], [])
        link = body["@odata.deltaLink"]
        self.assertEqual(self.round(link)[0], [])
        self.control("POST", "tenants/%s/export" % CONTOSO, {
            "objectType": "user", "sourceAnchor": "TmV3VXNlcjAwMDAwMDAwMA==",
            "userPrincipalName": "new@contoso.com", "proxyAddresses": ["SMTP:new@contoso.com"]})
        items, _, _ = self.round(link)
        self.assertEqual([i["userPrincipalName"] for i in items], ["new@contoso.com"])

    def test_provisioning_error_tracking_switch(self):
        flt = "onPremisesProvisioningErrors/any(o:o/category eq 'PropertyConflict')"
        quarantined = self.graph("GET", "/users?$select=id,userPrincipalName&$filter=" +
                                 urllib.parse.quote(flt)).json["value"]
        beth2 = next(u for u in quarantined if u["userPrincipalName"] == "beth.two@contoso.com")
        for tracked in (True, False):
            self.setUp()
            self.control("POST", "tenants/%s/settings" % CONTOSO, {"deltaTracksProvisioningErrors": tracked})
            _, link, _ = self.round("/users/delta?$select=id,onPremisesProvisioningErrors")
            # Make only the errors change: stick-free release of beth.two's quarantine
            # after the holder gives the address up... via an on-prem re-export that drops
            # the conflicting value (proxyAddresses is not selected).
            self.control("POST", "tenants/%s/export" % CONTOSO, {
                "objectType": "user", "sourceAnchor": "RGVtb0NvbmZsaWN0MDAzAA==",
                "userPrincipalName": "beth.two@contoso.com", "proxyAddresses": ["SMTP:beth.two@contoso.com"]})
            items, _, _ = self.round(link)
            ids = [i["id"] for i in items]
            if tracked:
                self.assertEqual(ids, [beth2["id"]])
                self.assertEqual(items[0]["onPremisesProvisioningErrors"], [])
            else:
                self.assertEqual(ids, [])

    def test_expired_token_forces_full_resync(self):
        _, link, _ = self.round("/users/delta?$select=" + SEL)
        self.control("POST", "clock/advance", {"seconds": 7 * 24 * 3600 + 1})
        reply = self.graph("GET", link)
        self.assertGraphError(reply, 410, "syncStateNotFound")
        location = reply.header("Location")
        self.assertIn("/v1.0/users/delta?", location)
        items, _, _ = self.round(location)
        self.assertEqual(len(items), 29)

    def test_expire_control_and_status_switch(self):
        first = self.graph("GET", "/users/delta?$select=id", headers={"Prefer": "odata.maxpagesize=5"}).json
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"deltaExpiredStatus": 400})
        self.control("POST", "tenants/%s/delta/expire" % CONTOSO)
        # Even a nextLink of a running round expires.
        self.assertGraphError(self.graph("GET", first["@odata.nextLink"]), 400, "syncStateNotFound")

    def test_unsupported_delta_options(self):
        self.assertGraphError(self.graph("GET", "/users/delta?$top=5"), 400, "Request_UnsupportedQuery")
        self.assertGraphError(self.graph("GET", "/users/delta?$filter=id%20eq%20'x'"), 400,
                              "Request_UnsupportedQuery")


if __name__ == "__main__":
    unittest.main()
