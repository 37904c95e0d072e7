"""End-to-end: every conflict is paired with the object(s) holding its value and
classified, through Graph $batch, against the simulator's scenarios.

Run one with e.g. python3 -m unittest tests.e2e.test_holder.HolderE2E.test_cloud_account
after make (QD_E2E_KEEP=1 keeps the daemon logs)."""

import csv
import datetime
import json
import math
import os
import re
import shutil
import unittest

from tests.e2e.harness import SCENARIOS, TENANT_ID, E2ETestCase, detected, wait_until

JOHN_CLOUD = "a0c1e2f3-0001-4000-8000-000000000001"
JOHN_ANCHOR = "yYuRNW0Z6kCXeYidebdT8A=="


def scenario(name):
    return os.path.join(SCENARIOS, name + ".json")


class HolderE2E(E2ETestCase):

    # ----- helpers -------------------------------------------------------------------------
    def run_scenario(self, name, faults=(), prepare=None, **kw):
        """Loads the scenario (which clears faults), calls prepare(), adds the faults,
        runs the daemon to its first cycle and returns (daemon, detected alerts by
        (objectId, property))."""
        self.scenario = scenario(name)
        self.sim.load(self.scenario)
        if prepare:
            prepare()
        if faults:
            self.sim.add_faults(*faults)
        expected = self.sim.expected_conflicts()
        self.assertTrue(expected, "scenario %s has no quarantine" % name)
        d = self.daemon(**kw).start()
        d.wait_for_cycles(1)
        # A cycle with more new conflicts than the outbox sends at once
        # (64) sends the rest on the next loop iterations, after its line.
        try:
            wait_until("%d detected alerts" % len(expected),
                       lambda: len(detected(d.alerts())) >= len(expected))
        except AssertionError:
            pass  # the count is asserted below, with the log
        alerts = detected(d.alerts())
        self.assertEqual(len(alerts), len(expected), d.log_tail())
        return d, {(a["objectId"], a["property"]): a for a in alerts}

    def sim_object(self, oid):
        return self.sim.tenant("/objects/%s" % oid)

    def assertBothSides(self, alert, holder_id):
        """The alert names the quarantined object and its holder, each with its own id,
        display name and UPN as the simulator has them (not the portal's mix-up)."""
        mine = self.sim_object(alert["objectId"])
        self.assertEqual(alert["displayName"], mine.get("displayName"))
        self.assertEqual(alert["userPrincipalName"], mine.get("userPrincipalName"))
        self.assertEqual(alert["holderId"], holder_id, alert)
        holders = {h["id"]: h for h in alert["holders"]}
        self.assertIn(holder_id, holders)
        self.assertNotIn(alert["objectId"], holders, "the object itself counted as holder")
        theirs = self.sim_object(holder_id)
        h = holders[holder_id]
        self.assertEqual(h["displayName"], theirs.get("displayName"))
        self.assertEqual(h["userPrincipalName"], theirs.get("userPrincipalName"))
        self.assertEqual(h["onPremisesSyncEnabled"], theirs.get("onPremisesSyncEnabled"))
        self.assertIn(h["displayName"] or holder_id, alert["message"])
        self.assertIn("[%s]" % alert["class"], alert["message"])
        self.assertNotIn("\n", alert["message"])
        self.assertTrue(alert["explanation"])
        self.assertTrue(alert["remediation"])
        return h

    def state(self, d):
        with open(os.path.join(d.state_dir, "%s.state.json" % d.name)) as f:
            return json.load(f)

    # ----- scenarios -------------------------------------------------------------------------
    def test_cloud_account(self):
        d, alerts = self.run_scenario("existing-cloud-account")
        self.assertEqual(len(alerts), 2)  # the UPN and the primary SMTP address of John
        for alert in alerts.values():
            self.assertEqual(alert["class"], "cloud_account", alert)
            h = self.assertBothSides(alert, JOHN_CLOUD)
            self.assertEqual(h["displayName"], "John (cloud)")
            self.assertEqual(alert["displayName"], "John Smith")
            self.assertIsNone(h["onPremisesSyncEnabled"])
            self.assertEqual(alert["onPremisesImmutableId"], JOHN_ANCHOR)
            self.assertIn("Update-MgUser -UserId %s -OnPremisesImmutableId '%s'"
                          % (JOHN_CLOUD, JOHN_ANCHOR), "\n".join(alert["remediation"]))
            self.assertIn("Start-ADSyncSyncCycle -PolicyType Delta",
                          "\n".join(alert["remediation"]))
        upn = [a for a in alerts.values() if a["property"] == "upn"][0]
        self.assertTrue(upn["placeholder"])
        self.assertEqual(upn["originalValue"], "john@contoso.com")
        self.assertIn(upn["userPrincipalName"], upn["explanation"])  # the placeholder
        # Both conflicts share one value: it was looked up once, in one batch.
        self.assertEqual(len(self.sim.batch_posts()), 1)
        self.assertEqual(len(self.sim.batch_items()), 3)
        self.assertEqual({e["path"] for e in self.sim.batch_items()},
                         {"/v1.0/users", "/v1.0/groups", "/v1.0/contacts"})
        # The pairing is kept in the state file.
        saved = self.state(d)
        self.assertEqual(saved["schema"], 4)  # 4: "alertSeq" (ARCHITECTURE.md)
        for c in saved["conflicts"]:
            self.assertEqual(c["class"], "cloud_account")
            self.assertEqual([h["id"] for h in c["holders"]], [JOHN_CLOUD])
            self.assertIsNotNone(c["holdersLookedUp"])
        # One suggestion for the pair (two conflicts, one cloud user, one anchor),
        # not approved: nothing is ever applied from it without an admin.
        with open(os.path.join(d.state_dir, "%s.suggestions.csv" % d.name)) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual((rows[0]["approved"], rows[0]["target"], rows[0]["anchor"]),
                         ("no", JOHN_CLOUD, JOHN_ANCHOR))
        self.assertIn(rows[0]["conflict"], {a["objectId"] for a in alerts.values()})
        self.assertEqual(len(d.log_lines(r"suggest: tenant e2e: suggested anchor")), 1)
        d.stop()
        self.assertNoWrites()

    def test_two_synced(self):
        d, alerts = self.run_scenario("two-synced-proxy")
        (alert,) = alerts.values()
        self.assertEqual(alert["class"], "two_synced")
        self.assertEqual(alert["displayName"], "Bob Brown")
        alice = [o for o in self.sim.tenant("/quarantines") or []]
        self.assertEqual(len(alice), 1)
        holder_id = alert["holderId"]
        h = self.assertBothSides(alert, holder_id)
        self.assertEqual(h["displayName"], "Alice Jones")
        self.assertTrue(h["onPremisesSyncEnabled"])
        # Both distinguished names and sAMAccountNames are named.
        for text in ("CN=Alice Jones,OU=Users,DC=contoso,DC=com", "ajones",
                     "CN=Bob Brown,OU=Users,DC=contoso,DC=com", "bbrown"):
            self.assertIn(text, alert["explanation"])
        self.assertIn("Set-ADUser -Identity 'bbrown' -Remove @{proxyAddresses='smtp:sales@contoso.com'}",
                      "\n".join(alert["remediation"]))
        d.stop()

    def test_group_holds_address(self):
        d, alerts = self.run_scenario("group-holds-user-smtp")
        (alert,) = alerts.values()
        self.assertEqual(alert["objectType"], "contact")
        self.assertEqual(alert["displayName"], "Partner Sales")
        self.assertEqual(alert["class"], "group_or_contact")
        holder = [h for h in alert["holders"] if h["objectType"] == "group"]
        self.assertEqual(len(holder), 1)
        h = self.assertBothSides(alert, holder[0]["id"])
        self.assertEqual(h["displayName"], "Sales")
        self.assertIn("Set-ADGroup -Identity 'Sales'", "\n".join(alert["remediation"]))
        d.stop()

    def test_orphaned(self):
        d, alerts = self.run_scenario("orphaned-object")
        self.assertTrue(alerts)
        for alert in alerts.values():
            self.assertEqual(alert["class"], "orphaned", alert)
            self.assertEqual(alert["onPremisesDistinguishedName"],
                             "CN=Erin Green,OU=Recreated,DC=contoso,DC=com")
            h = self.assertBothSides(alert, alert["holderId"])
            self.assertEqual(h["onPremisesDistinguishedName"],
                             "CN=Erin Green,OU=Users,DC=contoso,DC=com")
            self.assertIn("sAMAccountName", alert["explanation"])
        d.stop()

    def test_not_held_after_resolution(self):
        for name in ("resolved-then-released", "stuck-quarantine"):
            with self.subTest(scenario=name):
                d, alerts = self.run_scenario(name)
                for alert in alerts.values():
                    self.assertEqual(alert["class"], "not_held", alert)
                    self.assertIsNone(alert["holderId"])
                    self.assertEqual(alert["holders"], [])
                    self.assertIn("hourly sweep", alert["explanation"])
                d.stop()
                os.unlink(d.alerts_path)
                shutil.rmtree(d.state_dir)  # state, and the sinks' spools
                os.makedirs(d.state_dir)

    def test_multi_tenant(self):
        self.scenario = scenario("multi-tenant")
        self.sim.load(self.scenario)
        extra = ("fabrikam", "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
                 "4d5e6f70-8192-4a0b-9ecf-3a4b5c6d7e8f", "fabrikam-secret")
        d = self.daemon(extra_tenants=[extra]).start()
        d.wait_for_cycles(1)
        d.wait_for_cycles(1, name="fabrikam")
        alerts = detected(d.alerts())
        self.assertEqual({a["tenant"] for a in alerts}, {"e2e", "fabrikam"})
        for a in alerts:
            self.assertNotEqual(a["class"], "unknown", a)
            for h in a["holders"]:
                # A tenant's holders are its own objects.
                tid = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d" if a["tenant"] == "fabrikam" \
                    else None
                obj = self.sim.tenant("/objects/%s" % h["id"], tenant_id=tid) if tid \
                    else self.sim_object(h["id"])
                self.assertEqual(obj["id"], h["id"])
        d.stop()

    # ----- batching, throttling, failures, caching ----------------------------------------
    def test_demo_batches_of_twenty_with_item_429(self):
        """demo.json needs more than 20 lookups (each collection asked value by value:
        lookup_scan = no): several batches of at most 20; a throttled item is retried
        in a later batch after its own Retry-After."""
        def more_conflicts():
            # Two synced users per value: the second one's UPN is quarantined.  Values
            # go several to a GET, so it takes a few dozen.
            for i in range(40):
                for side in range(2):
                    out = self.sim.tenant("/export", "POST", {
                        "objectType": "user",
                        "sourceAnchor": "QmF0Y2hVc2Vy%04d%dAA==" % (i, side),
                        "displayName": "Batch user %d/%d" % (i, side),
                        "userPrincipalName": "batch%d@contoso.com" % i,
                        "onPremisesSamAccountName": "batch%d%d" % (i, side),
                        "proxyAddresses": ["SMTP:batch%d.%d@contoso.com" % (i, side)]})
                    self.assertEqual(bool(out["value"][0]["quarantined"]), side == 1, out)

        d, alerts = self.run_scenario(
            "demo", prepare=more_conflicts, options={"lookup_scan": "no"},
            faults=[{"kind": "429", "count": 2, "path": "/groups", "batchItem": True,
                     "retryAfter": "1"}])
        items, posts = self.sim.batch_items(), self.sim.batch_posts()
        self.assertGreater(len(items), 20)
        self.assertGreaterEqual(len(posts), math.ceil(len(items) / 20) + 1)
        self.assertEqual(self.sim.faults(), [])
        self.assertEqual(len([e for e in items if e.get("fault") == "429"]), 2)
        self.assertEqual(len(d.log_lines(r"batch item GET /groups\?.*throttled \(429, "
                                         r"Tenant_Application/ReadWrite\); "
                                         r"attempt 2 of \d+ in a later batch after 1\.0 s")),
                         2, d.log_tail())
        self.assertEqual(d.log_lines("holder lookup failed"), [])
        for a in alerts.values():
            self.assertNotEqual(a["class"], "unknown", a)
        # Nothing changed: later cycles look nothing up again.
        d.wait_for_more_cycles(2)
        self.assertEqual(len(self.sim.batch_posts()), len(posts))
        d.stop()
        self.assertNoWrites()

    # ----- several values per GET (https://learn.microsoft.com/graph/filter-query-parameter)
    def synced_pairs(self, n, value=lambda i: "pair%d@contoso.com" % i, prop="upn"):
        """Makes n pairs of synced users sharing a value (UPN, or primary SMTP address);
        the second of each pair is quarantined.  Returns {value: first user's id}."""
        firsts = {}
        for i in range(n):
            for side in range(2):
                v = value(i)
                user = {"objectType": "user",
                        "sourceAnchor": "UGFpclVzZXI%04d%dAA==" % (i, side),
                        "displayName": "Pair user %d/%d" % (i, side),
                        "onPremisesSamAccountName": "pair%d%d" % (i, side)}
                if prop == "upn":
                    user["userPrincipalName"] = v
                    user["proxyAddresses"] = ["SMTP:pair%d.%d@contoso.com" % (i, side)]
                else:
                    user["userPrincipalName"] = "pair%d.%d@contoso.com" % (i, side)
                    user["proxyAddresses"] = ["SMTP:" + v]
                out = self.sim.tenant("/export", "POST", user)["value"][0]
                self.assertEqual(bool(out["quarantined"]), side == 1, out)
                if side == 0:
                    firsts[v.lower()] = out["id"]
        return firsts

    def lookup_items(self):
        """The holder GETs the daemon sent: (collection, $filter)."""
        return [(e["path"].rsplit("/", 1)[-1], e["query"].get("$filter", ""))
                for e in self.sim.batch_items() if "$filter" in e["query"]]

    @staticmethod
    def clauses(flt):
        """Or-clauses of a holder filter as Graph counts them: each holds one string
        literal (an "in" holds one per value)."""
        return len(re.findall(r"'(?:[^']|'')*'", flt))

    def assertPaired(self, alerts, firsts):
        for a in alerts.values():
            if a["value"].lower() in firsts:
                self.assertEqual(a["class"], "two_synced", a)
                self.assertEqual(a["holderId"], firsts[a["value"].lower()], a)

    def test_lookups_ask_several_values_per_get(self):
        """Values go several to a GET, term after term, within the 15 or-clauses Graph
        allows, and each object found is paired with the value it holds (lookup_scan =
        no: every collection asked value by value)."""
        firsts = {}
        d, alerts = self.run_scenario("two-synced-proxy",
                                      prepare=lambda: firsts.update(self.synced_pairs(16)),
                                      options={"lookup_scan": "no"})
        self.assertPaired(alerts, firsts)
        self.assertEqual(len([a for a in alerts.values()
                              if a["value"].lower() in firsts]), 16)
        items = self.lookup_items()
        for coll, flt in items:
            self.assertLessEqual(self.clauses(flt), 15, flt)
        users = [f for c, f in items if c == "users"]
        # 17 values, 4 clauses each for users: 68 clauses, 15 to a GET.
        self.assertEqual(len(users), 5, users)
        self.assertTrue(users[0].startswith("userPrincipalName in ("), users[0])
        self.assertEqual([self.clauses(f) for f in users], [15, 15, 15, 15, 8])
        # 3 clauses for groups and contacts: 51 clauses.
        for coll in ("groups", "contacts"):
            mine = [f for c, f in items if c == coll]
            self.assertEqual([self.clauses(f) for f in mine], [15, 15, 15, 6], mine)
        self.assertFalse([e for e in self.sim.graph_requests()
                          if "$count" in e["query"]], "counted with lookup_scan = no")
        self.assertEqual([e for e in self.sim.batch_items() if e["status"] != 200], [])
        self.assertEqual(d.log_lines("holder lookup failed"), [])
        d.stop()

    def test_lookup_case_exact_finds_a_secondary_address(self):
        """With the default lookup_case = exact, a holder whose address is a secondary
        "smtp:" one is found even where Graph's eq minds case (the simulator's
        proxyAddressFilterCaseInsensitive off): both spellings are asked."""
        d, alerts = self.run_scenario(
            "two-synced-proxy",
            prepare=lambda: self.sim.settings(proxyAddressFilterCaseInsensitive=False))
        (alert,) = alerts.values()
        self.assertEqual(alert["class"], "two_synced", alert)
        self.assertEqual(self.assertBothSides(alert, alert["holderId"])["displayName"],
                         "Alice Jones")
        flts = [f for c, f in self.lookup_items()]
        self.assertTrue(any("'smtp:sales@contoso.com'" in f for f in flts), flts)
        self.assertTrue(any("mail eq 'sales@contoso.com'" in f for f in flts), flts)
        d.stop()

    def test_cheaper_lookup_options_find_holders(self):
        """lookup_case = insensitive and lookup_mail = no, where Graph's eq ignores case
        and every mail is among the object's proxyAddresses (the simulator's
        mailInProxyAddresses): each value is asked with fewer or-clauses, so more go to a
        GET, and every holder is still found, a secondary "smtp:" address included."""
        firsts = {}

        def prepare():
            self.sim.settings(mailInProxyAddresses=True)
            firsts.update(self.synced_pairs(16, value=lambda i: "list%d@contoso.com" % i,
                                            prop="smtp"))

        d, alerts = self.run_scenario("two-synced-proxy", prepare=prepare,
                                      options={"lookup_case": "insensitive",
                                               "lookup_mail": "no",
                                               "lookup_scan": "no"})
        self.assertPaired(alerts, firsts)
        self.assertEqual(len([a for a in alerts.values()
                              if a["value"].lower() in firsts]), 16)
        bob = [a for a in alerts.values() if a["value"].lower() == "sales@contoso.com"]
        self.assertEqual(len(bob), 1)
        self.assertEqual(self.assertBothSides(bob[0], bob[0]["holderId"])["displayName"],
                         "Alice Jones")
        items = self.lookup_items()
        for coll, flt in items:
            self.assertLessEqual(self.clauses(flt), 15, flt)
            self.assertNotIn("'smtp:", flt)
            self.assertNotIn("mail ", flt)
        # 17 values: 2 clauses each for users (UPN, SMTP:), 34 in all; 1 for groups
        # and contacts; 15 to a GET.
        self.assertEqual(len([f for c, f in items if c == "users"]), 3, items)
        for coll in ("groups", "contacts"):
            mine = [f for c, f in items if c == coll]
            self.assertEqual([self.clauses(f) for f in mine], [15, 2], mine)
        self.assertEqual(d.log_lines("holder lookup failed"), [])
        d.stop()

    def listings(self):
        """The holder listings the daemon sent: collection of each GET of a whole
        collection with proxyAddresses selected (not the inventory's filtered one)."""
        return [e["path"].rsplit("/", 1)[-1] for e in self.sim.graph_requests()
                if "$filter" not in e["query"] and "$count" not in e["query"]
                and "proxyAddresses" in e["query"].get("$select", "")]

    def test_large_lookup_lists_small_collections(self):
        """A lookup of many values in a tenant of few objects lists users, groups and
        contacts whole (after asking their size with $count, an advanced query) instead
        of asking them value by value, matches the objects to the values itself, and
        pairs every conflict; it costs fewer resource units than the questions."""
        firsts = {}
        d, alerts = self.run_scenario("two-synced-proxy",
                                      prepare=lambda: firsts.update(self.synced_pairs(60)))
        self.assertPaired(alerts, firsts)
        self.assertEqual(len([a for a in alerts.values()
                              if a["value"].lower() in firsts]), 60)
        counts = [e for e in self.sim.graph_requests() if "$count" in e["query"]]
        self.assertEqual(sorted(e["path"].rsplit("/", 1)[-1] for e in counts),
                         ["contacts", "groups", "users"], counts)
        # The simulator gives @odata.count only with ConsistencyLevel: eventual.
        self.assertEqual(d.log_lines("is not known"), [])
        self.assertEqual(sorted(self.listings()), ["contacts", "groups", "users"])
        searched = [c for c, f in self.lookup_items()
                    if c in ("users", "groups", "contacts")]
        self.assertEqual(searched, [], "listed collections searched too")
        # 3 counts and 3 listings of one page, 1 unit each, where asking 61 values
        # 10 ways (4 for users, 3 for groups and contacts) would take 41 GETs.
        spent = self.sim.control("GET", "stats")["tenants"][TENANT_ID]["resourceUnits"]
        inventory = [e for e in self.sim.graph_requests() if "$filter" in e["query"]]
        self.assertEqual(spent - len(inventory), 6, spent)
        d.stop()

    def test_failed_listing_is_searched_instead(self):
        """A listing that fails (403 on the groups listing) is not a failed lookup: the
        groups are asked value by value in the next round, and every conflict is paired."""
        firsts = {}
        d, alerts = self.run_scenario(
            "two-synced-proxy", prepare=lambda: firsts.update(self.synced_pairs(60)),
            faults=[{"kind": "403", "count": 1, "method": "GET",
                     "path": "/v1.0/groups?$select=id,displayName,mail,proxyAddresses"}])
        self.assertPaired(alerts, firsts)
        self.assertTrue(d.log_lines("listing groups failed .*searched value by value"),
                        d.log_tail())
        searched = {c for c, f in self.lookup_items()}
        self.assertIn("groups", searched)
        self.assertNotIn("users", searched)
        self.assertEqual(d.log_lines("holder lookup failed"), [])
        for a in alerts.values():
            self.assertNotEqual(a["class"], "unknown", a)
        d.stop()

    def test_value_over_120_characters_is_looked_up_by_prefix(self):
        """Graph refuses eq values over 120 characters: a longer address is asked with
        startswith() on its first characters, and only the object holding the whole
        value is its holder (a look-alike sharing the prefix is not)."""
        long_value = "a.very.long.mailbox." + "x" * 100 + "@contoso.com"
        twin = long_value.replace("@contoso.com", "@fabrikam.com")

        def prepare():
            firsts.update(self.synced_pairs(1, value=lambda i: long_value, prop="smtp"))
            # A user whose address starts like the long one.
            out = self.sim.tenant("/export", "POST", {
                "objectType": "user", "sourceAnchor": "TG9va0FsaWtlMDAwMDAwAA==",
                "displayName": "Look-alike", "userPrincipalName": "alike@contoso.com",
                "onPremisesSamAccountName": "alike", "proxyAddresses": ["SMTP:" + twin]})
            self.assertFalse(out["value"][0]["quarantined"])

        firsts = {}
        self.assertGreater(len(long_value), 120)
        d, alerts = self.run_scenario("two-synced-proxy", prepare=prepare)
        mine = [a for a in alerts.values() if a["value"].lower() == long_value]
        self.assertEqual(len(mine), 1, alerts)
        self.assertEqual(mine[0]["class"], "two_synced", mine[0])
        self.assertEqual([h["id"] for h in mine[0]["holders"]], [firsts[long_value]])
        items = self.lookup_items()
        prefixed = [f for c, f in items if "startswith(" in f]
        self.assertEqual(len(prefixed), 3, items)  # one per collection, alone
        for coll, flt in items:
            for literal in re.findall(r"'((?:[^']|'')*)'", flt):
                self.assertLessEqual(len(literal.replace("''", "'")), 120, flt)
        self.assertEqual([e for e in self.sim.batch_items() if e["status"] != 200], [])
        self.assertEqual(d.log_lines("holder lookup failed"), [])
        d.stop()

    def test_refused_filter_is_split_and_asked_again(self):
        """A tenant that allows fewer or-clauses than documented refuses the combined
        filters (400 Request_UnsupportedQuery): the daemon asks again in parts, and every
        conflict is still paired."""
        firsts = {}

        def prepare():
            self.sim.settings(filterMaxOrClauses=8)
            firsts.update(self.synced_pairs(6))

        d, alerts = self.run_scenario("two-synced-proxy", prepare=prepare)
        self.assertPaired(alerts, firsts)
        items = self.sim.batch_items()
        refused = [e for e in items if e["status"] == 400]
        self.assertTrue(refused)
        self.assertTrue(all(self.clauses(e["query"]["$filter"]) > 8 for e in refused))
        self.assertTrue(d.log_lines("refused or ambiguous .*asked again in parts"))
        self.assertEqual(d.log_lines("holder lookup failed"), [])
        for a in alerts.values():
            self.assertNotEqual(a["class"], "unknown", a)
        d.stop()

    def test_several_batches_in_flight(self):
        """A lookup of more than one $batch sends several POSTs at once (up to
        max_concurrency), not each after the previous one's answer: two POSTs the
        simulator holds for a second each are both under way at the same time."""
        firsts = {}

        def prepare():
            firsts.update(self.synced_pairs(70))
            self.sim.add_faults({"kind": "delay", "seconds": 1, "count": 2,
                                 "method": "POST", "path": "/$batch"})

        d, alerts = self.run_scenario("two-synced-proxy", prepare=prepare,
                                      options={"max_concurrency": 4,
                                               "lookup_scan": "no"})
        self.assertPaired(alerts, firsts)
        posts = self.sim.batch_posts()
        self.assertGreaterEqual(len(posts), 3, posts)

        def span(e):
            end = datetime.datetime.fromisoformat(e["time"])
            return end - datetime.timedelta(milliseconds=e["durationMs"]), end

        spans = sorted(span(e) for e in posts)
        overlaps = [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
        self.assertTrue(overlaps, spans)
        self.assertEqual(d.log_lines("holder lookup failed"), [])
        d.stop()

    def test_lookups_beyond_the_budget_wait_for_it_not_for_429(self):
        """A tenant whose lookups cost more resource units than its bucket holds: the
        simulator enforces a quota of 30 units per 10 s and the daemon is given the same
        budget (resource_budget), so the daemon waits for its bucket before each $batch
        POST, Graph answers no request with 429, and every holder is still found."""
        quota = 30
        firsts = {}

        def prepare():
            firsts.update(self.synced_pairs(100))
            self.sim.settings(throttleEnabled=True, throttleResourceUnitQuota=quota)
            self.sim.control("POST", "throttle/reset")

        d, alerts = self.run_scenario("two-synced-proxy", prepare=prepare,
                                      page_size=999, options={"lookup_scan": "no"},
                                      tenant_lines=["resource_budget = %d" % quota])
        self.assertPaired(alerts, firsts)
        self.assertEqual(len([a for a in alerts.values()
                              if a["value"].lower() in firsts]), 100)
        for a in alerts.values():
            self.assertNotEqual(a["class"], "unknown", a)
        spent = self.sim.control("GET", "stats")["tenants"][TENANT_ID]
        # The lookups alone cost more than two full buckets...
        self.assertGreater(len(self.lookup_items()), 2 * quota)
        self.assertGreater(spent["resourceUnits"], 2 * quota, spent)
        # ...yet nothing was throttled: the daemon waited for its own bucket.
        self.assertEqual(spent["throttled"], 0, spent)
        self.assertEqual([e for e in self.sim.requests() if e.get("status") == 429], [])
        self.assertTrue(d.log_lines(r"waits \d+\.\d+ s for resource units"), d.log_tail())
        self.assertEqual(d.log_lines("throttled"), [])
        self.assertEqual(d.log_lines("holder lookup failed"), [])
        d.stop()

    def test_failed_lookup_alerts_unknown_then_pairs_next_cycle(self):
        """A lookup that fails (403 on the groups query) still alerts the conflict, as
        unknown with the Graph error code, changes no stored pairing, and the next cycle
        looks it up again."""
        d, alerts = self.run_scenario(
            "existing-cloud-account", poll_interval="2s",
            faults=[{"kind": "403", "count": 1, "path": "/groups", "batchItem": True}])
        for a in alerts.values():
            self.assertEqual(a["class"], "unknown")
            self.assertIn("holder lookup failed: Authorization_RequestDenied", a["message"])
            self.assertEqual(a["holders"], [])
        saved = self.state(d)
        for c in saved["conflicts"]:
            self.assertIsNone(c["holdersLookedUp"])
            self.assertEqual(c["lookupError"], "Authorization_RequestDenied")
        d.wait_for_more_cycles(1)
        saved = self.state(d)
        for c in saved["conflicts"]:
            self.assertEqual(c["class"], "cloud_account")
            self.assertEqual([h["id"] for h in c["holders"]], [JOHN_CLOUD])
            self.assertIsNone(c["lookupError"])
        # The conflict was alerted once: the class change is not a new detection.
        self.assertEqual(len(detected(d.alerts())), len(alerts))
        d.stop()

    def test_restart_keeps_pairing_without_new_lookups(self):
        d, alerts = self.run_scenario("existing-cloud-account")
        d.stop()
        posts = len(self.sim.batch_posts())
        d.start()
        d.wait_for_cycles(1)
        self.assertEqual(len(self.sim.batch_posts()), posts)
        for c in self.state(d)["conflicts"]:
            self.assertEqual(c["class"], "cloud_account")
        d.stop()


if __name__ == "__main__":
    unittest.main()
