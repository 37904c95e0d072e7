"""End-to-end: the daemon mimics the service's hourly release sweep against the
simulator, whose clock is manual: the service's sweep runs only when a test moves
simulated time past an hour boundary (Simulator.advance).  The daemon sweeps every
2 s of real time, so each scenario goes through its states in a few seconds.

Run one with e.g. python3 -m unittest tests.e2e.test_sweep.SweepE2E.test_stuck
after make (QD_E2E_KEEP=1 keeps the daemon logs)."""

import json
import os
import shutil
import unittest

from tests.e2e.harness import (SCENARIOS, E2ETestCase, cleared, detected, events,
                               parse_time, released, wait_until)

JOHN_CLOUD = "a0c1e2f3-0001-4000-8000-000000000001"
FABRIKAM = ("fabrikam", "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
            "4d5e6f70-8192-4a0b-9ecf-3a4b5c6d7e8f", "fabrikam-secret")
SWEEP_RE = r"tenant %s: sweep re-checked \d+ conflicts? \((\d+) failed\)"
# The sweep's events; none may appear for a conflict that stays held.
SWEEP_EVENTS = ("conflict.freed", "conflict.released", "conflict.stuck", "conflict.held")


def scenario(name):
    return os.path.join(SCENARIOS, name + ".json")


class SweepE2E(E2ETestCase):
    clock = "manual"

    # ----- helpers -------------------------------------------------------------------------
    def start(self, name, grace="30s", **options):
        """Loads the scenario, starts a daemon sweeping every 2 s and waits for its
        first cycle.  Returns (daemon, detected alerts)."""
        self.sim.load(scenario(name))
        opts = {"sweep_interval": "2s", "sweep_grace": grace}
        opts.update(options)
        d = self.daemon(options=opts).start()
        d.wait_for_cycles(1)
        alerts = detected(d.alerts())
        self.assertEqual(len(alerts), len(self.sim.expected_conflicts()), d.log_tail())
        return d, alerts

    def state(self, d):
        with open(os.path.join(d.state_dir, "%s.state.json" % d.name)) as f:
            return {(c["objectId"], c["property"]): c for c in json.load(f)["conflicts"]}

    def wait_events(self, d, name, count):
        return events(d.wait_for_alerts(lambda a: len(events(a, name)) >= count), name)

    def wait_sweeps(self, d, count=1, name=None):
        """Waits for `count` more completed sweeps; returns their failed counts."""
        rx = SWEEP_RE % (name or d.name)
        lines = d.wait_for_log(rx, len(d.log_lines(rx)) + count)
        return lines

    def service_sweep(self):
        """The service's hourly sweep: simulated time moves on by an hour."""
        out = self.sim.advance(3600)
        self.assertTrue(out["sweeps"], out)
        return out["sweeps"]

    def assertFreed(self, alert, value):
        self.assertEqual(alert["state"], "freed")
        self.assertEqual(alert["class"], "not_held")
        self.assertEqual(alert["value"].lower(), value)
        freed, by = parse_time(alert["freedAt"]), parse_time(alert["predictedRelease"])
        self.assertEqual((by - freed).total_seconds(), 2)  # one sweep period
        self.assertIn("no object holds %s any more; the service should release it "
                      "within 2s (by %s)" % (alert["value"], alert["predictedRelease"]),
                      alert["message"])
        self.assertNotIn("\n", alert["message"])

    # ----- resolved, then released -----------------------------------------------------------
    def test_resolved_then_released(self):
        """frank's holder is already gone: his UPN and primary address are detected
        as not_held and freed at once; after the service's sweep gives them back,
        released with a time to release; never stuck, never cleared."""
        d, alerts = self.start("resolved-then-released")
        freed = self.wait_events(d, "conflict.freed", 2)
        for a in freed:
            self.assertFreed(a, "frank@contoso.com")
            self.assertEqual(self.state(d)[(a["objectId"], a["property"])]["state"], "freed")
        self.assertEqual(len(detected(d.alerts())), 2)
        self.service_sweep()
        rel = self.wait_events(d, "conflict.released", 2)
        self.assertEqual({a["property"] for a in rel}, {"upn", "proxy"})
        for a in rel:
            self.assertEqual(a["objectId"], freed[0]["objectId"])
            self.assertEqual(a["freedAt"], freed[0]["freedAt"])
            ttr = a["timeToReleaseSeconds"]
            elapsed = (parse_time(a["releasedAt"]) - parse_time(a["freedAt"])).total_seconds()
            self.assertEqual(ttr, elapsed)
            self.assertGreaterEqual(ttr, 0)
            self.assertIn("frank@contoso.com is back", a["message"])
        self.assertEqual(self.sim.tenant("/objects/%s" % rel[0]["objectId"])["userPrincipalName"],
                         "frank@contoso.com")
        d.wait_for_more_cycles(1)
        d.wait_for_log(r"tenant e2e: sweep: no conflicts")
        alerts = d.alerts()
        self.assertEqual(cleared(alerts), [])
        self.assertEqual(events(alerts, "conflict.stuck"), [])
        self.assertEqual(self.state(d), {})
        d.stop()
        self.assertNoWrites()

    def test_holder_removed_freed_by_sweep_then_released(self):
        """John's UPN and address are held by a cloud-only account; the admin deletes
        it: the daemon's next sweep frees both, the service's sweep releases both."""
        d, alerts = self.start("existing-cloud-account")
        self.assertEqual({a["class"] for a in alerts}, {"cloud_account"})
        self.assertEqual({a["state"] for a in alerts}, {"active"})
        self.wait_sweeps(d)
        self.assertEqual(events(d.alerts(), "conflict.freed"), [])
        self.sim.tenant("/objects/%s" % JOHN_CLOUD, "DELETE")
        freed = self.wait_events(d, "conflict.freed", 2)
        for a in freed:
            self.assertFreed(a, "john@contoso.com")
        # The sweep's log line comes after its alerts and the state file.
        d.wait_for_log(r"sweep re-checked 2 conflicts \(0 failed\), 2 changes")
        mark = self.sim.requests()[-1]["seq"]
        self.service_sweep()
        rel = self.wait_events(d, "conflict.released", 2)
        self.assertEqual({a["property"] for a in rel}, {"upn", "proxy"})
        # John's object was read once for both of his conflicts.
        reads = [e for e in self.sim.batch_items(mark)
                 if e["path"] == "/v1.0/users/%s" % rel[0]["objectId"]]
        self.assertEqual(len(reads), 1, reads)
        john = self.sim.tenant("/objects/%s" % rel[0]["objectId"])
        self.assertEqual(john["userPrincipalName"], "john@contoso.com")
        self.assertEqual(cleared(d.alerts()), [])
        d.stop()

    # ----- stuck ---------------------------------------------------------------------------------
    def test_stuck(self):
        """grace's UPN is free but marked stuck in the simulator: after one sweep
        period plus the grace, conflict.stuck with what to do, once; her address,
        not stuck, is released."""
        d, alerts = self.start("stuck-quarantine", grace="2s")
        freed = self.wait_events(d, "conflict.freed", 2)
        self.service_sweep()
        (rel,) = self.wait_events(d, "conflict.released", 1)
        self.assertEqual(rel["property"], "proxy")
        (stuck,) = self.wait_events(d, "conflict.stuck", 1)
        upn = [a for a in freed if a["property"] == "upn"][0]
        self.assertEqual(stuck["property"], "upn")
        self.assertEqual(stuck["state"], "stuck")
        self.assertEqual(stuck["freedAt"], upn["freedAt"])
        self.assertGreaterEqual(parse_time(stuck["stuckAt"]),
                                parse_time(upn["predictedRelease"]))
        self.assertEqual(stuck["class"], "not_held")
        self.assertIn("still quarantined after its expected release", stuck["message"])
        steps = "\n".join(stuck["remediation"])
        self.assertIn("Remove-MgDirectoryDeletedItem", steps)
        self.assertIn("Diagnose and remediate", steps)
        self.assertIn("Start-ADSyncSyncCycle -PolicyType Delta", steps)
        self.assertIn("support case", steps)
        self.assertIn("stuck", stuck["explanation"])
        # Later cycles and sweeps say nothing more about it.
        d.wait_for_more_cycles(1)
        self.wait_sweeps(d)
        alerts = d.alerts()
        self.assertEqual(len(events(alerts, "conflict.stuck")), 1)
        self.assertEqual(len(released(alerts)), 1)
        saved = self.state(d)
        self.assertEqual([c["state"] for c in saved.values()], ["stuck"])
        self.assertIsNotNone(list(saved.values())[0]["stuckAt"])
        d.stop()

    # ----- held again ------------------------------------------------------------------------
    def test_freed_then_held_again(self):
        """After the holder is deleted the value is freed; a new cloud account takes
        john@contoso.com before the service's sweep: back to active, with an alert
        naming the new holder, and no stuck later."""
        d, alerts = self.start("existing-cloud-account")
        self.sim.tenant("/objects/%s" % JOHN_CLOUD, "DELETE")
        self.wait_events(d, "conflict.freed", 2)
        new = self.sim.tenant("/objects", "POST", {
            "objectType": "user", "userPrincipalName": "john@contoso.com",
            "displayName": "John (new cloud)", "mail": "john@contoso.com",
            "proxyAddresses": ["SMTP:john@contoso.com"]})
        held = self.wait_events(d, "conflict.held", 2)
        for a in held:
            self.assertEqual(a["state"], "active")
            self.assertIsNone(a["freedAt"])
            self.assertEqual(a["class"], "cloud_account")
            self.assertEqual(a["holderId"], new["id"])
            self.assertIn("is held again and stays quarantined", a["message"])
            self.assertIn("John (new cloud)", a["message"])
        # The alerts are written before the state file: wait for the file.
        wait_until("the state file to say active", lambda: {
            c["state"] for c in self.state(d).values()} == {"active"})
        self.wait_sweeps(d)
        alerts = d.alerts()
        self.assertEqual(events(alerts, "conflict.stuck"), [])
        self.assertEqual(len(events(alerts, "conflict.freed")), 2)
        d.stop()

    # ----- failures ----------------------------------------------------------------------------
    def test_failed_lookup_changes_no_state(self):
        """The holder is deleted, but the sweep's lookup fails (403 on one query of
        the $batch): no transition, the error is recorded; the next sweep frees."""
        d, alerts = self.start("existing-cloud-account")
        self.sim.add_faults({"kind": "403", "count": 1, "path": "/users",
                             "batchItem": True})
        self.sim.tenant("/objects/%s" % JOHN_CLOUD, "DELETE")
        d.wait_for_log(SWEEP_RE.replace(r"(\d+)", "2") % d.name)
        self.assertEqual(self.sim.faults(), [])
        saved = self.state(d)
        self.assertEqual(events(d.alerts(), "conflict.freed"), [])
        for c in saved.values():
            self.assertEqual(c["state"], "active")
            self.assertEqual(c["lookupError"], "Authorization_RequestDenied")
            self.assertEqual(c["class"], "cloud_account")
            self.assertEqual([h["id"] for h in c["holders"]], [JOHN_CLOUD])
        freed = self.wait_events(d, "conflict.freed", 2)
        self.assertEqual({a["state"] for a in freed}, {"freed"})
        for c in self.state(d).values():
            self.assertIsNone(c["lookupError"])
        d.stop()

    def test_failed_object_check_keeps_the_conflict(self):
        """The service releases frank, but reading his object fails (403): no
        released and no cleared; the next cycle reads it and reports released
        once."""
        d, alerts = self.start("resolved-then-released")
        self.wait_events(d, "conflict.freed", 2)
        oid = alerts[0]["objectId"]
        # Both conflicts (UPN and address) are of one object, read once.
        self.sim.add_faults({"kind": "403", "count": 1, "path": "/users/%s" % oid,
                             "batchItem": True})
        self.service_sweep()
        d.wait_for_log(r"object check failed for 2 of 2 conflicts \(.*: "
                       r"Authorization_RequestDenied, HTTP 403\)")
        self.assertEqual(self.sim.faults(), [])
        self.assertEqual(released(d.alerts()) + cleared(d.alerts()), [])
        self.assertEqual(self.state(d)[(oid, "upn")]["state"], "freed")
        self.wait_events(d, "conflict.released", 2)
        d.wait_for_more_cycles(1)
        self.assertEqual(len(released(d.alerts())), 2)
        self.assertEqual(cleared(d.alerts()), [])
        d.stop()

    def test_deleted_object_is_cleared_not_released(self):
        """The quarantined object itself is deleted: the conflict is gone but nothing
        carries the value: conflict.cleared, not released."""
        d, alerts = self.start("resolved-then-released")
        self.wait_events(d, "conflict.freed", 2)
        self.sim.tenant("/objects/%s" % alerts[0]["objectId"], "DELETE")
        gone = cleared(d.wait_for_alerts(lambda a: len(cleared(a)) == 2))
        self.assertEqual({a["objectId"] for a in gone}, {alerts[0]["objectId"]})
        d.wait_for_more_cycles(1)
        self.assertEqual(released(d.alerts()), [])
        d.stop()

    # ----- restart -------------------------------------------------------------------------------
    def test_restart_between_freed_and_released(self):
        d, alerts = self.start("resolved-then-released")
        self.wait_events(d, "conflict.freed", 2)
        d.stop()
        d.start()
        d.wait_for_log(r"tenant e2e: loaded 2 conflicts from saved state")
        d.wait_for_cycles(2)
        self.wait_sweeps(d)
        self.assertEqual(len(events(d.alerts(), "conflict.freed")), 2, "freed again")
        self.assertEqual(len(detected(d.alerts())), 2)
        self.service_sweep()
        rel = self.wait_events(d, "conflict.released", 2)
        # Reported by the daemon started second, with the freed time saved by the first.
        self.assertEqual(len(d.log_lines(r"freed -> released after")), 2)
        self.assertEqual({a["freedAt"] for a in rel},
                         {a["freedAt"] for a in events(d.alerts(), "conflict.freed")})
        d.stop()

    # ----- aging ---------------------------------------------------------------------------------
    def test_aging_once_per_threshold_across_restarts(self):
        d, alerts = self.start("two-synced-proxy", aging="4s, 6s")
        aging = self.wait_events(d, "conflict.aging", 2)
        self.assertEqual([a["thresholdSeconds"] for a in aging], [4, 6])
        for a in aging:
            self.assertGreaterEqual(a["ageSeconds"], a["thresholdSeconds"])
            self.assertEqual(a["objectId"], alerts[0]["objectId"])
            self.assertIn("older than %ds" % a["thresholdSeconds"], a["message"])
            self.assertEqual(a["class"], "two_synced")
        self.assertEqual(self.state(d)[(alerts[0]["objectId"], "proxy")]["agingDone"], 6)
        d.stop()
        d.start()
        d.wait_for_cycles(2)
        self.wait_sweeps(d)
        self.assertEqual(len(events(d.alerts(), "conflict.aging")), 2)
        d.stop()

    # ----- every other scenario stays active -------------------------------------------------
    def test_held_conflicts_stay_active_through_sweeps(self):
        for name in ("existing-cloud-account", "two-synced-proxy", "group-holds-user-smtp",
                     "orphaned-object"):
            with self.subTest(scenario=name):
                d, alerts = self.start(name)
                classes = {(a["objectId"], a["property"]): a["class"] for a in alerts}
                self.assertNotIn("not_held", classes.values())
                self.wait_sweeps(d)
                for e in SWEEP_EVENTS:
                    self.assertEqual(events(d.alerts(), e), [], e)
                saved = self.state(d)
                self.assertEqual({k: c["class"] for k, c in saved.items()}, classes)
                self.assertEqual({c["state"] for c in saved.values()}, {"active"})
                d.stop()
                os.unlink(d.alerts_path)
                shutil.rmtree(d.state_dir)  # state, and the sinks' spools
                os.makedirs(d.state_dir)

    def test_multi_tenant(self):
        self.sim.load(scenario("multi-tenant"))
        d = self.daemon(extra_tenants=[FABRIKAM],
                        options={"sweep_interval": "2s", "sweep_grace": "30s"}).start()
        d.wait_for_cycles(1)
        d.wait_for_cycles(1, name="fabrikam")
        self.wait_sweeps(d)
        self.wait_sweeps(d, name="fabrikam")
        alerts = d.alerts()
        self.assertEqual({a["tenant"] for a in detected(alerts)}, {"e2e", "fabrikam"})
        for e in SWEEP_EVENTS:
            self.assertEqual(events(alerts, e), [], e)
        d.stop()


if __name__ == "__main__":
    unittest.main()
