"""End-to-end tests of `inventory = delta`: the real daemon against graphsim's
/users/delta, /groups/delta and /contacts/delta.

What an administrator would notice: the same alerts as the filter mode, found
through full and incremental delta rounds (seen in the simulator's request log and
in the one log line per cycle), resumed after a restart from the saved deltaLinks,
a full resync after the service expires a delta token without a single spurious
alert, and the periodic full resync that catches a change delta did not report."""

import json
import os
import urllib.parse

try:
    from . import harness
    from .test_daemon import TrapServer
except ImportError:  # discovered with tests/e2e as the top level
    import harness
    from test_daemon import TrapServer

E2ETestCase = harness.E2ETestCase
detected, alert_key = harness.detected, harness.alert_key


def cleared(alerts):
    """Conflicts gone from the inventory: released (the object has its value back,
    e.g. after the holder was deleted and the service swept) or cleared."""
    return harness.cleared(alerts) + harness.released(alerts)
wait_until = harness.wait_until

COLLECTIONS = ("users", "groups", "contacts")
EXPIRED = r"inventory: tenant e2e: delta token for (\w+) expired \(HTTP (\d+) (\w+)\); full resync"


def collection_of(entry):
    """users, groups or contacts of a /v1.0/{collection}/delta request."""
    parts = entry["path"].split("/")
    return parts[2] if len(parts) > 3 and parts[3] == "delta" else None


def is_first_page(entry):
    """A request that starts a full round: /delta?$select=... with no token."""
    return "$select" in entry["query"] and not {"$skiptoken", "$deltatoken"} & set(entry["query"])


class DeltaE2E(E2ETestCase):

    def setUp(self):
        super().setUp()
        # Several pages per collection even on the small demo tenant, whatever page
        # size the daemon asks for.
        self.sim.settings(deltaPageSize=2, deltaMaxPageSize=2)

    def start_and_detect(self, **kw):
        expected = self.sim.expected_conflicts()
        kw.setdefault("inventory", "delta")
        d = self.daemon(**kw).start()
        d.wait_for_cycles(1)
        self.assertEqual(d.cycles()[0], (len(expected), len(expected), 0))
        self.assertEqual({alert_key(a) for a in detected(d.alerts())}, expected)
        return d, expected

    def cycle_lines(self, d):
        return d.log_lines(harness.CYCLE_RE % "e2e")

    def state(self, d):
        with open(os.path.join(d.state_dir, "e2e.state.json")) as f:
            return json.load(f)

    def resolve_eli(self):
        """The admin deletes the user holding the contact's address; the sweep (one
        simulated hour later) releases it.  Returns the conflict key that clears."""
        holder = self.sim.tenant("/objects/eli@contoso.com")
        self.sim.tenant("/objects/%s" % holder["id"], "DELETE")
        before = self.sim.expected_conflicts()
        self.sim.control("POST", "clock/advance", {"seconds": 3600})
        gone = before - self.sim.expected_conflicts()
        self.assertEqual([(c[0], c[3]) for c in gone], [("contact", "eli@contoso.com")])
        return gone

    def assertNoSpuriousAlerts(self, d, expected, cleared_keys=()):
        alerts = d.alerts()
        self.assertEqual({alert_key(a) for a in cleared(alerts)}, set(cleared_keys))
        self.assertEqual(len(cleared(alerts)), len(cleared_keys), "a conflict cleared twice")
        self.assertEqual(len(detected(alerts)), len(expected), "a conflict detected twice")

    # ----- 1 -------------------------------------------------------------------------------
    def test_full_then_incremental_rounds_over_pages(self):
        """The first cycle reads every object of the three collections through
        /delta, page by page, and finds exactly the simulator's conflicts; the next
        cycles only follow the stored deltaLinks."""
        d, expected = self.start_and_detect()
        self.assertEqual({a["objectType"] for a in detected(d.alerts())},
                         {"user", "group", "contact"})
        d.wait_for_cycles(3)
        lines = self.cycle_lines(d)
        self.assertTrue(lines[0].endswith("(delta full)"), lines[0])
        for line in lines[1:]:
            self.assertTrue(line.endswith("(delta incremental)"), line)
        self.assertEqual(d.cycles()[1:3], [(len(expected), 0, 0)] * 2)
        d.stop()

        # Everything but the holder lookups ($batch) goes to /delta.
        listing = [e for e in self.sim.graph_requests() if "$batch" not in e["path"]]
        reqs = [e for e in listing if collection_of(e)]
        self.assertEqual(len(reqs), len(listing), "a request not to /delta")
        for coll in COLLECTIONS:
            mine = [e for e in reqs if collection_of(e) == coll]
            self.assertTrue(is_first_page(mine[0]), mine[0])
            self.assertNotIn("$top", mine[0]["query"])
            self.assertNotIn("$filter", mine[0]["query"])
            self.assertIn("onPremisesProvisioningErrors", mine[0]["query"]["$select"])
            first = [i for i, e in enumerate(mine) if "$deltatoken" in e["query"]][0]
            self.assertGreater(first, 2, "%s: the first round took no pages" % coll)
            for e in mine[1:first]:
                self.assertEqual(set(e["query"]), {"$skiptoken"}, e)
            for e in mine[first:]:
                self.assertFalse(is_first_page(e), e)
            for e in mine:
                self.assertEqual(e["status"], 200, e)
                # Every page asks for the largest page, since Graph does not carry
                # the header over to the nextLink (https://learn.microsoft.com/graph/paging).
                prefer = {k.lower(): v for k, v in (e.get("headers") or {}).items()}
                self.assertEqual(prefer.get("prefer"), "odata.maxpagesize=999", e)
        links = self.state(d)["deltaLinks"]
        for coll in COLLECTIONS:
            self.assertIn("/v1.0/%s/delta?$deltatoken=" % coll, links[coll])
        self.assertIsNotNone(self.state(d)["deltaFullSync"])
        self.assertNoWrites()

    def test_no_change_cycle_costs_three_requests(self):
        """Once the first round is done and nothing changes, a cycle is one deltaLink GET
        per collection: no holder lookup, no second page."""
        self.sim.settings(deltaPageSize=100, deltaMaxPageSize=999)
        d, expected = self.start_and_detect()
        d.wait_for_more_cycles(1)
        mark = self.sim.requests()[-1]["seq"]
        done = len(d.cycles())
        d.wait_for_more_cycles(3)
        d.stop()
        cycles = len(d.cycles()) - done
        reqs = self.sim.graph_requests(mark)
        # At most one cycle besides the counted ones was under way at either end.
        self.assertLessEqual(len(reqs), 3 * (cycles + 1), reqs)
        self.assertGreaterEqual(len(reqs), 3 * cycles, reqs)
        for e in reqs:
            self.assertEqual((e["method"], set(e["query"])), ("GET", {"$deltatoken"}), e)
            self.assertEqual(e["status"], 200, e)

    # ----- 2 -------------------------------------------------------------------------------
    def test_resolved_conflict_cleared_by_an_incremental_round(self):
        # The release changes only eli's provisioning errors: the simulator reports
        # that in /delta only when told to (its cautious default does not; test 5
        # shows the periodic full round catching it then).
        self.sim.settings(deltaTracksProvisioningErrors=True)
        d, expected = self.start_and_detect()
        d.wait_for_cycles(2)
        mark = self.sim.requests()[-1]["seq"]
        gone = self.resolve_eli()
        d.wait_for_alerts(lambda a: cleared(a))
        d.wait_for_cycle((len(expected) - 1, 0, 1), then=1)
        self.assertNoSpuriousAlerts(d, expected, gone)
        clearing = [l for l in self.cycle_lines(d) if "(0 new, 1 cleared)" in l]
        self.assertEqual(len(clearing), 1)
        self.assertTrue(clearing[0].endswith("(delta incremental)"), clearing[0])
        self.assertEqual(d.cycles()[-1], (len(expected) - 1, 0, 0))
        d.stop()
        later = [e for e in self.sim.graph_requests(mark) if collection_of(e)]
        self.assertTrue(later)
        self.assertEqual([e for e in later if is_first_page(e)], [], "a full round ran")
        self.assertNoWrites()

    # ----- 3 -------------------------------------------------------------------------------
    def test_restart_resumes_from_the_stored_delta_links(self):
        """Stopped, a conflict resolved meanwhile, started again: the daemon carries
        on from the saved links (no full round) and clears just that conflict."""
        d, expected = self.start_and_detect()
        d.wait_for_cycles(2)
        d.stop()
        links = self.state(d)["deltaLinks"]
        mark = self.sim.requests()[-1]["seq"]
        gone = self.resolve_eli()

        d.start()
        d.wait_for_log(r"tenant e2e: loaded %d conflicts from saved state" % len(expected))
        cycles = d.wait_for_cycles(2)
        self.assertEqual(cycles[:2], [(len(expected) - 1, 0, 1), (len(expected) - 1, 0, 0)])
        self.assertTrue(self.cycle_lines(d)[0].endswith("(delta incremental)"))
        self.assertNoSpuriousAlerts(d, expected, gone)
        d.stop()
        after = [e for e in self.sim.graph_requests(mark) if collection_of(e)]
        self.assertEqual([e for e in after if is_first_page(e)], [], "a full round ran")
        for coll in COLLECTIONS:
            first = [e for e in after if collection_of(e) == coll][0]
            self.assertEqual(first["query"]["$deltatoken"],
                             urllib.parse.unquote(links[coll].split("$deltatoken=", 1)[1]))
        self.assertNoWrites()

    # ----- 4 -------------------------------------------------------------------------------
    def test_expired_tokens_resync_without_spurious_alerts(self):
        """410 Gone, and 400 / 404 syncStateNotFound: one line per collection, a
        full round of it in the same cycle, and no alert at all."""
        d, expected = self.start_and_detect()
        for n, status in enumerate((410, 400, 404), 1):
            with self.subTest(status=status):
                self.sim.settings(deltaExpiredStatus=status)
                done = len(d.cycles())
                self.sim.tenant("/delta/expire", "POST")
                lines = d.wait_for_log(EXPIRED, count=3 * n)[-3:]
                cycles = d.wait_for_cycles(done + 2)
                self.assertIn((len(expected), 0, 0), cycles[done:])
                self.assertEqual(sorted(l.split(" for ")[1].split()[0] for l in lines),
                                 sorted(COLLECTIONS))
                for line in lines:
                    self.assertIn("(HTTP %d syncStateNotFound)" % status, line)
                resync = [l for l in self.cycle_lines(d)[done:] if l.endswith("(delta full)")]
                self.assertTrue(resync, self.cycle_lines(d)[done:])
                self.assertEqual(d.log_lines("cycle failed"), [])
                self.assertNoSpuriousAlerts(d, expected)
        # While the tokens are expired a conflict is resolved: the full round
        # clears it like any complete inventory.
        self.sim.tenant("/delta/expire", "POST")
        gone = self.resolve_eli()
        d.wait_for_alerts(lambda a: cleared(a))
        d.wait_for_cycle((len(expected) - 1, 0, 1), then=1)
        self.assertNoSpuriousAlerts(d, expected, gone)
        d.stop()
        expired = [e for e in self.sim.graph_requests() if e["status"] in (400, 404, 410)]
        self.assertEqual(len(expired), 12, [(e["path"], e["status"]) for e in expired])
        self.assertNoWrites()

    # ----- 5 -------------------------------------------------------------------------------
    def test_untracked_error_change_caught_by_the_periodic_full_resync(self):
        """If Graph does not report a change of onPremisesProvisioningErrors alone in
        /delta (undocumented either way:
        docs/graph-facts.md#does-delta-track-provisioning-errors), incremental rounds miss
        the release; the periodic full round (delta_full_resync) clears it."""
        for tracked in (True, False):
            with self.subTest(tracked=tracked):
                if not tracked:
                    self.setUp()
                self.sim.settings(deltaTracksProvisioningErrors=tracked)
                d, expected = self.start_and_detect(
                    daemon_options=["delta_full_resync = %ds" % (3600 if tracked else 6)])
                before = self.sim.expected_conflicts()
                # On-premises drops the conflicting address: only the errors change.
                self.sim.tenant("/export", "POST", {
                    "objectType": "user", "sourceAnchor": "RGVtb0NvbmZsaWN0MDAzAA==",
                    "userPrincipalName": "beth.two@contoso.com",
                    "proxyAddresses": ["SMTP:beth.two@contoso.com"]})
                gone = before - self.sim.expected_conflicts()
                self.assertEqual(len(gone), 1)
                done = len(d.cycles())
                d.wait_for_alerts(lambda a: cleared(a))
                # The cycle's log line comes after its alerts and the state file.
                d.wait_for_log(r"\(0 new, 1 cleared\)")
                lines = self.cycle_lines(d)
                clearing = [l for l in lines if "(0 new, 1 cleared)" in l]
                self.assertEqual(len(clearing), 1)
                if tracked:
                    self.assertTrue(clearing[0].endswith("(delta incremental)"), clearing[0])
                else:
                    # The export also moves onPremisesLastSyncDateTime, which the
                    # daemon selects for pairing, so the object comes back in an
                    # incremental round after all, or in the periodic full round
                    # if that came first.  The full round must then come anyway
                    # and agree with what the incremental rounds built.
                    self.assertRegex(clearing[0], r"\(delta (incremental|full)\)$")
                    at = lines.index(clearing[0])
                    d.wait_for_log(r"\(delta full\)$", count=2)
                    fulls = [l for l in self.cycle_lines(d)[done:] if l.endswith("(delta full)")]
                    for line in fulls:
                        if line != lines[at]:
                            self.assertIn("(0 new, 0 cleared)", line)
                self.assertNoSpuriousAlerts(d, expected, gone)
                d.stop()
                self.assertNoWrites()

    # ----- 6 -------------------------------------------------------------------------------
    def test_links_to_another_host_are_not_used(self):
        """graph_url changed (or the state file was edited): stored links that point
        elsewhere are never called; the daemon reads a full round instead."""
        trap = TrapServer()
        self.addCleanup(trap.close)
        d, expected = self.start_and_detect()
        d.stop()
        path = os.path.join(d.state_dir, "e2e.state.json")
        with open(path) as f:
            state = json.load(f)
        for coll in COLLECTIONS:
            state["deltaLinks"][coll] = state["deltaLinks"][coll].replace(self.sim.base,
                                                                          trap.url)
        with open(path, "w") as f:
            json.dump(state, f)
        d.start()
        d.wait_for_cycles(1)
        self.assertEqual(len(d.log_lines(r"the stored delta link for \w+ is not under "
                                         r"graph_url; full round")), 3)
        self.assertTrue(self.cycle_lines(d)[0].endswith("(delta full)"))
        self.assertEqual(d.cycles()[0], (len(expected), 0, 0))
        d.stop()
        self.assertEqual(trap.seen, [])
        self.assertNoSpuriousAlerts(d, expected)
        for coll in COLLECTIONS:
            self.assertTrue(self.state(d)["deltaLinks"][coll].startswith(self.sim.base))

    # ----- 7 -------------------------------------------------------------------------------
    def test_switching_modes_drops_and_rebuilds_the_links(self):
        d, expected = self.start_and_detect()
        d.stop()
        with open(d.conf_path) as f:
            conf = f.read()
        with open(d.conf_path, "w") as f:
            f.write(conf.replace("inventory = delta", "inventory = filter"))
        d.start()
        d.wait_for_log(r"tenant e2e: inventory is not delta; dropping 3 stored delta links")
        d.wait_for_cycles(1)
        d.stop()
        self.assertEqual(self.state(d)["deltaLinks"],
                         {"users": None, "groups": None, "contacts": None})
        with open(d.conf_path, "w") as f:
            f.write(conf)
        d.start()
        d.wait_for_cycles(2)
        lines = self.cycle_lines(d)
        self.assertTrue(lines[0].endswith("(delta full)"), lines[0])
        self.assertTrue(lines[1].endswith("(delta incremental)"), lines[1])
        d.stop()
        self.assertNoSpuriousAlerts(d, expected)


if __name__ == "__main__":
    import unittest
    unittest.main()
