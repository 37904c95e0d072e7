"""What the daemon's apply engine reads besides users: the tenant's sync features,
deleted items, role assignments and group memberships; and the existing-cloud-account
path from a refused PATCH to the hard match."""

import unittest

from simtest import CONTOSO, WRITER, SimTestCase, q

CLOUD_JOHN = "a0c1e2f3-0001-4000-8000-000000000001"
ANCHOR = "yYuRNW0Z6kCXeYidebdT8A=="
ONPREM_JOHN = {"objectType": "user", "sourceAnchor": ANCHOR, "displayName": "John Smith",
               "userPrincipalName": "john@contoso.com", "mail": "john@contoso.com",
               "proxyAddresses": ["SMTP:john@contoso.com"]}


class ApplySupportTest(SimTestCase):
    scenario = "existing-cloud-account.json"

    def writer(self):
        return self.token(client_id=WRITER, secret="writer-secret")

    def duplicate(self):
        return [o for o in self.control("GET", "tenants/%s/quarantines" % CONTOSO)["value"]
                if o["sourceAnchor"] == ANCHOR][0]

    def test_sync_features_need_the_switch(self):
        # Application permissions are "Not supported" for this API.
        self.assertGraphError(self.graph("GET", "/directory/onPremisesSynchronization"),
                              403, "Authorization_RequestDenied")
        self.control("POST", "tenants/%s/settings" % CONTOSO,
                     {"onPremisesSynchronizationReadableByApps": True,
                      "blockCloudObjectTakeoverThroughHardMatchEnabled": True})
        body = self.graph("GET", "/directory/onPremisesSynchronization").json
        features = body["value"][0]["features"]
        self.assertIs(features["blockCloudObjectTakeoverThroughHardMatchEnabled"], True)
        self.assertIs(features["blockSoftMatchEnabled"], True)
        one = self.graph("GET", "/directory/onPremisesSynchronization/" + CONTOSO).json
        self.assertEqual(one["id"], CONTOSO)
        self.assertEqual(self.control("GET", "writes")["value"], [])

    def test_deleted_items(self):
        self.assertGraphError(self.graph("GET", "/directory/deletedItems/" + CLOUD_JOHN),
                              404, "Request_ResourceNotFound")
        self.control("DELETE", "tenants/%s/objects/%s?mode=soft" % (CONTOSO, CLOUD_JOHN))
        self.assertGraphError(self.graph("GET", "/users/" + CLOUD_JOHN), 404,
                              "Request_ResourceNotFound")
        item = self.graph("GET", "/directory/deletedItems/" + CLOUD_JOHN).json
        self.assertEqual(item["@odata.type"], "#microsoft.graph.user")
        self.assertEqual(item["userPrincipalName"], "john@contoso.com")
        self.assertTrue(item["deletedDateTime"])

    def test_role_assignments_need_a_role_read_permission(self):
        path = "/roleManagement/directory/roleAssignments?$filter=" + q(
            "principalId eq '%s'" % CLOUD_JOHN)
        self.assertGraphError(self.graph("GET", path, self.writer()), 403,
                              "Authorization_RequestDenied")
        self.control("POST", "tenants/%s/apps" % CONTOSO, {
            "clientId": WRITER, "secret": "writer-secret",
            "roles": ["User.ReadWrite.All", "RoleManagement.Read.Directory"]})
        self.assertEqual(self.graph("GET", path, self.writer()).json["value"], [])
        self.control("PATCH", "tenants/%s/objects/%s" % (CONTOSO, CLOUD_JOHN),
                     {"_sim": {"adminRoles": ["Global Administrator"]}})
        value = self.graph("GET", path, self.writer()).json["value"]
        self.assertEqual([(a["principalId"], a["roleDefinitionId"]) for a in value],
                         [(CLOUD_JOHN, "62e90394-69f5-4237-9190-012177145e10")])

    def test_group_memberships(self):
        group = self.control("POST", "tenants/%s/objects" % CONTOSO, {
            "objectType": "group", "displayName": "Hard-match pilots"}, expect=201)["id"]
        self.assertEqual(self.graph("GET", "/users/%s/transitiveMemberOf" % CLOUD_JOHN)
                         .json["value"], [])
        self.control("PATCH", "tenants/%s/objects/%s" % (CONTOSO, CLOUD_JOHN),
                     {"_sim": {"memberOf": [group]}})
        for rel in ("memberOf", "transitiveMemberOf"):
            value = self.graph("GET", "/users/%s/%s?$select=id" % (CLOUD_JOHN, rel)).json["value"]
            self.assertEqual([g["id"] for g in value], [group])

    def test_existing_cloud_account_from_refusal_to_hard_match(self):
        token = self.writer()
        dup = self.duplicate()
        # The synced duplicate holds the anchor: the filter finds it, the PATCH is refused.
        held = self.graph("GET", "/users?$filter=" + q("onPremisesImmutableId eq '%s'" % ANCHOR)
                          + "&$select=id,onPremisesSyncEnabled").json["value"]
        self.assertEqual([(u["id"], u["onPremisesSyncEnabled"]) for u in held], [(dup["id"], True)])
        self.assertGraphError(self.graph("PATCH", "/users/" + CLOUD_JOHN, token,
                                         {"onPremisesImmutableId": ANCHOR}), 400,
                              "Request_BadRequest")
        # Soft-deleted, it still holds the value (not listed, but the PATCH fails).
        self.control("DELETE", "tenants/%s/objects/%s?mode=soft" % (CONTOSO, dup["id"]))
        self.assertEqual(self.graph("GET", "/users?$filter=" + q(
            "onPremisesImmutableId eq '%s'" % ANCHOR)).json["value"], [])
        self.assertGraphError(self.graph("PATCH", "/users/" + CLOUD_JOHN, token,
                                         {"onPremisesImmutableId": ANCHOR}), 400,
                              "Request_BadRequest")
        # Removed from deleted items too: the PATCH works and the export hard-matches.
        self.control("DELETE", "tenants/%s/objects/%s?mode=hard" % (CONTOSO, dup["id"]))
        self.assertEqual(self.graph("PATCH", "/users/" + CLOUD_JOHN, token,
                                    {"onPremisesImmutableId": ANCHOR}).status, 204)
        result = self.control("POST", "tenants/%s/export" % CONTOSO, ONPREM_JOHN)["value"][0]
        self.assertEqual((result["result"], result["id"], result["quarantined"]),
                         ("hard-matched", CLOUD_JOHN, []))
        user = self.graph("GET", "/users/%s?$select=onPremisesSyncEnabled,onPremisesImmutableId,"
                          "userPrincipalName" % CLOUD_JOHN).json
        self.assertEqual((user["onPremisesSyncEnabled"], user["onPremisesImmutableId"],
                          user["userPrincipalName"]), (True, ANCHOR, "john@contoso.com"))
        self.assertEqual(self.control("GET", "tenants/%s/quarantines" % CONTOSO)["value"], [])


if __name__ == "__main__":
    unittest.main()
