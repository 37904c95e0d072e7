"""Duplicate Attribute Resiliency: sync exports, quarantine, placeholders, matching, the
documented exceptions, and the hourly release sweep on the simulated clock."""

import re
import unittest
import urllib.parse

from simtest import CONTOSO, SimTestCase, load_scenario, q

PLACEHOLDER = re.compile(r"^(.+)(\d{4})@contoso\.onmicrosoft\.com$")
SEL = "$select=id,userPrincipalName,proxyAddresses,onPremisesProvisioningErrors,onPremisesSyncEnabled,onPremisesImmutableId"


def empty_tenant(**settings):
    data = load_scenario("two-synced-proxy.json")
    data["tenants"][0]["exports"] = []
    data["tenants"][0]["settings"] = settings
    return data


class DarTest(SimTestCase):
    scenario = "existing-cloud-account.json"

    def user(self, upn_or_id):
        reply = self.graph("GET", "/users/%s?%s" % (urllib.parse.quote(upn_or_id), SEL))
        self.assertEqual(reply.status, 200, reply.raw)
        return reply.json

    def export(self, *objects, tenant=CONTOSO):
        return self.control("POST", "tenants/%s/export" % tenant, list(objects))["value"]

    def quarantined_users(self):
        items, _ = self.get_all("/users?$filter=%s&%s" % (
            q("onPremisesProvisioningErrors/any(o:o/category eq 'PropertyConflict')"), SEL))
        return items

    # ----- seed scenarios ----------------------------------------------------------------
    def test_existing_cloud_account(self):
        cloud = self.user("john@contoso.com")
        self.assertIsNone(cloud["onPremisesSyncEnabled"])
        synced = self.graph("GET", "/users?$filter=%s&%s" % (
            q("onPremisesImmutableId eq 'yYuRNW0Z6kCXeYidebdT8A=='"), SEL)).json["value"][0]
        self.assertTrue(synced["onPremisesSyncEnabled"])
        m = PLACEHOLDER.match(synced["userPrincipalName"])
        self.assertIsNotNone(m, synced["userPrincipalName"])
        self.assertEqual(m.group(1), "john")
        # The SMTP proxy address also contains the number
        # (https://learn.microsoft.com/troubleshoot/entra/entra-id/user-prov-sync/number-add-username-email-address).
        self.assertEqual(synced["proxyAddresses"], ["SMTP:" + synced["userPrincipalName"]])
        errors = {(e["propertyCausingError"], e["value"]) for e in synced["onPremisesProvisioningErrors"]}
        self.assertEqual(errors, {("UserPrincipalName", "john@contoso.com"),
                                  ("ProxyAddresses", "SMTP:john@contoso.com")})
        for e in synced["onPremisesProvisioningErrors"]:
            self.assertEqual(e["category"], "PropertyConflict")
            self.assertRegex(e["occurredDateTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")

    def test_placeholder_digits_are_deterministic(self):
        first = self.quarantined_users()[0]["userPrincipalName"]
        self.load(self.scenario_data())
        self.assertEqual(self.quarantined_users()[0]["userPrincipalName"], first)

    def test_two_synced_users_sharing_a_proxy_address(self):
        self.load(load_scenario("two-synced-proxy.json"))
        alice, bob = self.user("alice@contoso.com"), self.user("bob@contoso.com")
        self.assertIn("smtp:sales@contoso.com", alice["proxyAddresses"])
        self.assertEqual(alice["onPremisesProvisioningErrors"], [])
        self.assertEqual(bob["proxyAddresses"], ["SMTP:bob@contoso.com"])
        self.assertEqual([(e["propertyCausingError"], e["value"]) for e in bob["onPremisesProvisioningErrors"]],
                         [("ProxyAddresses", "smtp:sales@contoso.com")])

    def test_proxy_error_name_and_prefix_switches(self):
        self.load(load_scenario("two-synced-proxy.json"))
        self.control("POST", "tenants/%s/settings" % CONTOSO,
                     {"proxyAddressErrorName": "ProxyAddress", "proxyAddressErrorValueHasPrefix": False})
        err = self.user("bob@contoso.com")["onPremisesProvisioningErrors"][0]
        self.assertEqual((err["propertyCausingError"], err["value"]), ("ProxyAddress", "sales@contoso.com"))
        flt = q("onPremisesProvisioningErrors/any(o:o/propertyCausingError eq 'ProxyAddress')")
        self.assertEqual(len(self.graph("GET", "/users?$filter=" + flt).json["value"]), 1)

    def test_group_holding_user_smtp_is_a_hard_export_error(self):
        self.load(load_scenario("group-holds-user-smtp.json"))
        self.assertEqual(self.graph("GET", "/users/carol@contoso.com").status, 404)
        errors = self.control("GET", "tenants/%s/export-errors" % CONTOSO)["value"]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["type"], "ObjectTypeMismatch")
        self.assertEqual(errors[0]["retryCount"], 0)
        # Retried each cycle, failing again.
        carol = {"objectType": "user", "sourceAnchor": "8rH0e7cS0ki8XGz3o0bJWQ==",
                 "userPrincipalName": "carol@contoso.com",
                 "proxyAddresses": ["SMTP:carol@contoso.com", "smtp:sales@contoso.com"]}
        result = self.export(carol)[0]
        self.assertEqual(result["result"], "export-error")
        self.assertEqual(result["error"]["retryCount"], 1)
        # The contact with the same address is quarantined instead.
        contacts = self.graph("GET", "/contacts?$filter=%s" % q(
            "onPremisesProvisioningErrors/any(o:o/category eq 'PropertyConflict')")).json["value"]
        self.assertEqual([c["displayName"] for c in contacts], ["Partner Sales"])
        # With the switch off, the user is created and the address quarantined.
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"userGroupSmtpConflictIsExportError": False})
        result = self.export(carol)[0]
        self.assertEqual(result["result"], "created")
        self.assertEqual(result["quarantined"], [{"property": "ProxyAddress", "value": "smtp:sales@contoso.com"}])

    def test_two_groups_fail_first_then_quarantine(self):
        self.load(empty_tenant())
        g1 = {"objectType": "group", "sourceAnchor": "R3JvdXBPbmUwMDAwMDAwMA==", "displayName": "One",
              "proxyAddresses": ["SMTP:team@contoso.com"]}
        g2 = {"objectType": "group", "sourceAnchor": "R3JvdXBUd28wMDAwMDAwMA==", "displayName": "Two",
              "proxyAddresses": ["SMTP:team@contoso.com"]}
        self.assertEqual(self.export(g1)[0]["result"], "created")
        self.assertEqual(self.export(g2)[0]["result"], "export-error")
        second = self.export(g2)[0]
        self.assertEqual(second["result"], "created")
        self.assertEqual(second["quarantined"][0]["value"], "SMTP:team@contoso.com")

    def test_orphaned_object(self):
        self.load(load_scenario("orphaned-object.json"))
        users = self.quarantined_users()
        self.assertEqual(len(users), 1)
        self.assertEqual(users[0]["onPremisesImmutableId"], "TmV3QW5jaG9yRXJpbjAyAA==")
        self.assertTrue(PLACEHOLDER.match(users[0]["userPrincipalName"]))
        # The on-premises deletion finally arrives (hard delete): the next sweep releases.
        self.control("DELETE", "tenants/%s/export/%s?mode=hard" % (
            CONTOSO, urllib.parse.quote("Q2xkQW5jaG9yRXJpbjAxAA==", safe="")))
        self.control("POST", "clock/advance", {"seconds": 3600})
        self.assertEqual(self.user("erin@contoso.com")["onPremisesImmutableId"], "TmV3QW5jaG9yRXJpbjAyAA==")

    def test_soft_deleted_holder_keeps_the_value(self):
        self.load(load_scenario("orphaned-object.json"))
        self.control("DELETE", "tenants/%s/export/%s" % (CONTOSO, urllib.parse.quote("Q2xkQW5jaG9yRXJpbjAxAA==", safe="")))
        self.control("POST", "clock/advance", {"seconds": 3600})
        self.assertEqual(len(self.quarantined_users()), 1)
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"softDeletedObjectsHoldValues": False})
        self.control("POST", "tenants/%s/sweep" % CONTOSO)
        self.assertEqual(self.quarantined_users(), [])

    # ----- the sweep --------------------------------------------------------------------
    def test_resolved_then_released_on_the_hour(self):
        self.load(load_scenario("resolved-then-released.json"))
        users = self.quarantined_users()
        self.assertEqual(len(users), 1)
        uid = users[0]["id"]
        self.assertEqual(self.graph("GET", "/users/frank@contoso.com").status, 404)
        clock = self.control("GET", "clock")
        self.control("POST", "clock/advance", {"seconds": 3599})
        self.assertEqual(len(self.quarantined_users()), 1, "released before the hour")
        state = self.control("POST", "clock/advance", {"seconds": 1})
        self.assertEqual(len(state["sweeps"]), 1)
        self.assertEqual(self.quarantined_users(), [])
        frank = self.user(uid)
        self.assertEqual(frank["userPrincipalName"], "frank@contoso.com")
        self.assertEqual(frank["proxyAddresses"], ["SMTP:frank@contoso.com"])
        self.assertEqual(frank["onPremisesProvisioningErrors"], [])
        self.assertNotEqual(clock["now"], self.control("GET", "clock")["now"])

    def test_quarantine_stays_while_the_value_is_held(self):
        self.control("POST", "clock/advance", {"seconds": 7200})
        self.assertEqual(len(self.quarantined_users()), 1)
        sweep = self.control("POST", "tenants/%s/sweep" % CONTOSO)
        self.assertEqual(sweep["released"], [])
        self.assertTrue(all(k["reason"].startswith("held by") for k in sweep["kept"]))

    def test_admin_changes_resolve_the_conflict(self):
        self.load(load_scenario("two-synced-proxy.json"))
        alice = self.user("alice@contoso.com")
        # The admin removes the address from alice (a cloud-side change).
        self.control("PATCH", "tenants/%s/objects/%s" % (CONTOSO, alice["id"]),
                     {"proxyAddresses": ["SMTP:alice@contoso.com"]})
        sweep = self.control("POST", "tenants/%s/sweep" % CONTOSO)
        self.assertEqual([r["value"] for r in sweep["released"]], ["smtp:sales@contoso.com"])
        bob = self.user("bob@contoso.com")
        self.assertEqual(bob["proxyAddresses"], ["SMTP:bob@contoso.com", "smtp:sales@contoso.com"])
        self.assertEqual(bob["onPremisesProvisioningErrors"], [])

    def test_first_quarantined_wins_the_released_value(self):
        self.load(empty_tenant())
        holder = {"objectType": "user", "sourceAnchor": "SG9sZGVyMDAwMDAwMDAwMA==",
                  "userPrincipalName": "holder@contoso.com",
                  "proxyAddresses": ["SMTP:holder@contoso.com", "smtp:shared@contoso.com"]}
        a = {"objectType": "user", "sourceAnchor": "QUFBQUFBQUFBQUFBQUFBQQ==", "userPrincipalName": "a@contoso.com",
             "proxyAddresses": ["SMTP:a@contoso.com", "smtp:shared@contoso.com"]}
        b = {"objectType": "user", "sourceAnchor": "QkJCQkJCQkJCQkJCQkJCQg==", "userPrincipalName": "b@contoso.com",
             "proxyAddresses": ["SMTP:b@contoso.com", "smtp:shared@contoso.com"]}
        self.export(holder)
        self.export(a)
        self.control("POST", "clock/advance", {"seconds": 60})
        self.export(b)
        self.control("DELETE", "tenants/%s/export/%s?mode=hard" % (CONTOSO, urllib.parse.quote(holder["sourceAnchor"], safe="")))
        sweep = self.control("POST", "tenants/%s/sweep" % CONTOSO)
        self.assertEqual(len(sweep["released"]), 1)
        self.assertIn("smtp:shared@contoso.com", self.user("a@contoso.com")["proxyAddresses"])
        self.assertEqual(len(self.user("b@contoso.com")["onPremisesProvisioningErrors"]), 1)

    def test_stuck_quarantine_is_never_released(self):
        self.load(load_scenario("stuck-quarantine.json"))
        self.control("POST", "clock/advance", {"seconds": 3 * 3600})
        users = self.quarantined_users()
        self.assertEqual(len(users), 1)
        grace = users[0]
        self.assertTrue(PLACEHOLDER.match(grace["userPrincipalName"]))
        # The proxy address quarantine was not stuck: released.
        self.assertEqual(grace["proxyAddresses"], ["SMTP:grace@contoso.com"])
        self.assertEqual([e["propertyCausingError"] for e in grace["onPremisesProvisioningErrors"]],
                         ["UserPrincipalName"])
        # Unsticking lets the next sweep release it.
        self.control("POST", "tenants/%s/objects/%s/stuck" % (CONTOSO, grace["id"]),
                     {"value": "grace@contoso.com", "stuck": False})
        self.control("POST", "clock/advance", {"seconds": 3600})
        self.assertEqual(self.user(grace["id"])["userPrincipalName"], "grace@contoso.com")

    # ----- matching -----------------------------------------------------------------------
    def test_hard_match_takes_over_a_cloud_user(self):
        self.load(empty_tenant())
        obj = self.control("POST", "tenants/%s/objects" % CONTOSO, {
            "objectType": "user", "userPrincipalName": "ivy@contoso.com", "displayName": "Ivy",
            "onPremisesImmutableId": "SXZ5QW5jaG9yMDAwMDAwMA=="}, expect=201)
        result = self.export({"objectType": "user", "sourceAnchor": "SXZ5QW5jaG9yMDAwMDAwMA==",
                              "userPrincipalName": "ivy@contoso.com", "displayName": "Ivy (AD)",
                              "proxyAddresses": ["SMTP:ivy@contoso.com"]})[0]
        self.assertEqual(result["result"], "hard-matched")
        self.assertEqual(result["id"], obj["id"])
        ivy = self.user("ivy@contoso.com")
        self.assertTrue(ivy["onPremisesSyncEnabled"])
        self.assertEqual(ivy["onPremisesProvisioningErrors"], [])

    def test_blocked_hard_match_is_an_export_error(self):
        self.load(empty_tenant(blockCloudObjectTakeoverThroughHardMatchEnabled=True))
        self.control("POST", "tenants/%s/objects" % CONTOSO, {
            "objectType": "user", "userPrincipalName": "ivy@contoso.com",
            "onPremisesImmutableId": "SXZ5QW5jaG9yMDAwMDAwMA=="}, expect=201)
        result = self.export({"objectType": "user", "sourceAnchor": "SXZ5QW5jaG9yMDAwMDAwMA==",
                              "userPrincipalName": "ivy@contoso.com"})[0]
        self.assertEqual(result["result"], "export-error")
        self.assertEqual(result["error"]["type"], "InvalidHardMatch")
        self.assertIsNone(self.user("ivy@contoso.com")["onPremisesSyncEnabled"])

    def test_soft_match_when_not_blocked(self):
        data = load_scenario("existing-cloud-account.json")
        data["tenants"][0]["settings"] = {"blockSoftMatchEnabled": False}
        self.load(data)
        self.assertEqual(self.quarantined_users(), [])
        john = self.user("john@contoso.com")
        self.assertTrue(john["onPremisesSyncEnabled"])
        self.assertEqual(john["onPremisesImmutableId"], "yYuRNW0Z6kCXeYidebdT8A==")

    def test_admin_role_blocks_matching(self):
        data = load_scenario("existing-cloud-account.json")
        data["tenants"][0]["settings"] = {"blockSoftMatchEnabled": False}
        data["tenants"][0]["objects"]["users"][0]["_sim"] = {"adminRoles": ["Global Administrator"]}
        self.load(data)
        errors = self.control("GET", "tenants/%s/export-errors" % CONTOSO)["value"]
        self.assertEqual(errors[0]["type"], "ExistingAdminRoleConflict")

    def test_export_update_and_release_through_re_export(self):
        # The on-premises admin renames the conflicting user: the next export gives it
        # the new UPN and drops the errors at once.
        result = self.export({"objectType": "user", "sourceAnchor": "yYuRNW0Z6kCXeYidebdT8A==",
                              "userPrincipalName": "john.smith@contoso.com",
                              "proxyAddresses": ["SMTP:john.smith@contoso.com"]})[0]
        self.assertEqual(result["result"], "updated")
        self.assertEqual(result["quarantined"], [])
        self.assertEqual(self.quarantined_users(), [])

    def test_raw_object_shows_internal_state(self):
        uid = self.quarantined_users()[0]["id"]
        raw = self.control("GET", "tenants/%s/objects/%s" % (CONTOSO, uid))
        self.assertEqual(raw["_sim"]["sourceAnchor"], "yYuRNW0Z6kCXeYidebdT8A==")
        self.assertEqual(len(raw["_sim"]["quarantine"]), 2)
        quarantines = self.control("GET", "tenants/%s/quarantines" % CONTOSO)["value"]
        self.assertEqual([x["id"] for x in quarantines], [uid])


class AutoClockTest(SimTestCase):
    """--clock auto: the sweep runs in real time every --sweep-interval seconds."""
    scenario = "resolved-then-released.json"
    clock = "auto"
    sweep_interval = 0.5

    def test_sweep_runs_in_real_time(self):
        flt = "/users?$filter=%s&$select=id" % q(
            "onPremisesProvisioningErrors/any(o:o/category eq 'PropertyConflict')")
        import time
        deadline = time.time() + 10
        while self.graph("GET", flt).json["value"] and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.graph("GET", flt).json["value"], [])
        self.assertEqual(self.graph("GET", "/users/frank@contoso.com").status, 200)
        self.assertGreaterEqual(self.control("GET", "clock")["sweepsRun"], 1)


if __name__ == "__main__":
    unittest.main()
