"""End to end: the guarded onPremisesImmutableId apply engine against graphsim.

The existing-cloud-account scenario: cloud-only john@contoso.com, and the on-premises
John (anchor yYuRNW0Z6kCXeYidebdT8A==) exported with the same UPN, so Duplicate
Attribute Resiliency made a synced duplicate with a placeholder UPN.  The daemon runs
with the writer app and a known-anchors CSV."""

import base64
import json
import os
import signal
import subprocess
import unittest
import uuid

from tests.e2e.harness import (SCENARIOS, TENANT_ID, WAIT, WRITER_ID, WRITER_SECRET,
                               E2ETestCase, cleared, qd_bin, wait_until)

CLOUD_JOHN = "a0c1e2f3-0001-4000-8000-000000000001"
ANCHOR = "yYuRNW0Z6kCXeYidebdT8A=="
ONPREM_JOHN = {"objectType": "user", "sourceAnchor": ANCHOR, "displayName": "John Smith",
               "userPrincipalName": "john@contoso.com", "mail": "john@contoso.com",
               "onPremisesSamAccountName": "jsmith",
               "onPremisesDistinguishedName": "CN=John Smith,OU=Users,DC=contoso,DC=com",
               "proxyAddresses": ["SMTP:john@contoso.com"]}

# post_apply_command: mimics Start-ADSyncSyncCycle -PolicyType Delta on the Connect
# server by exporting the on-premises object to the simulator.
SYNC_SCRIPT = """import json, os, ssl, urllib.request
ctx = ssl.create_default_context(cafile=%(ca)r)
with open(%(marker)r, "a") as f:
    f.write(json.dumps({k: v for k, v in os.environ.items() if k.startswith("QD_")}) + "\\n")
req = urllib.request.Request(%(url)r, data=json.dumps(%(obj)r).encode(), method="POST",
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, context=ctx, timeout=60) as r:
    print("export:", json.load(r)["value"][0]["result"])
"""


def new_anchor():
    return base64.b64encode(os.urandom(16)).decode()


def events(alerts, event, reason=None):
    return [a for a in alerts if a["event"] == event and (reason is None or a.get("reason") == reason)]


class ApplyE2E(E2ETestCase):
    scenario = os.path.join(SCENARIOS, "existing-cloud-account.json")

    # ----- helpers -------------------------------------------------------------------------
    def setUp(self):
        super().setUp()
        self.anchors_path = os.path.join(self.workdir, "anchors.csv")

    def write_anchors(self, rows, header="target,anchor,reference"):
        with open(self.anchors_path, "w") as f:
            f.write(header + "\n")
            for row in rows:
                f.write(",".join(row) + "\n")

    def apply_daemon(self, rows, mode="apply", allow="apply_allow_domains = contoso.com",
                     extra=(), readable=True):
        """A daemon with the writer app in `mode`; the tenant's sync features are
        readable by apps unless readable is False."""
        self.write_anchors(rows)
        if readable:
            self.sim.settings(onPremisesSynchronizationReadableByApps=True)
        lines = ["apply_mode = %s" % mode, "anchors_file = %s" % self.anchors_path]
        if allow:
            lines.append(allow)
        return self.daemon(client_id=WRITER_ID, secret=WRITER_SECRET,
                           tenant_lines=lines + list(extra))

    def duplicate_id(self):
        return [o for o in self.sim.quarantines() if o["sourceAnchor"] == ANCHOR][0]["id"]

    def remove_duplicate(self):
        """The admin's fix: the synced duplicate is deleted, also from deleted items."""
        self.sim.tenant("/objects/%s?mode=hard" % self.duplicate_id(), "DELETE")

    def add_cloud_user(self, name, **sim):
        body = {"objectType": "user", "userPrincipalName": "%s@contoso.com" % name,
                "displayName": name, "accountEnabled": True}
        if sim:
            body["_sim"] = sim
        return self.sim.tenant("/objects", "POST", body)["id"]

    def patches(self):
        return [w for w in self.sim.writes() if w["method"] == "PATCH"]

    def journal(self, d):
        path = os.path.join(d.state_dir, "%s.journal.jsonl" % d.name)
        try:
            with open(path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def wait_events(self, d, event, count=1, reason=None):
        return d.wait_for_alerts(lambda a: len(events(a, event, reason)) >= count)

    # ----- the whole story -------------------------------------------------------------------
    def test_existing_cloud_account_refused_then_applied_then_hard_matched(self):
        marker = os.path.join(self.workdir, "sync-ran.jsonl")
        script = os.path.join(self.workdir, "sync.py")
        with open(script, "w") as f:
            f.write(SYNC_SCRIPT % {"ca": self.sim.ca_file, "marker": marker,
                                   "url": "%s/_sim/tenants/%s/export" % (self.sim.base, TENANT_ID),
                                   "obj": ONPREM_JOHN})
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "CHG-1001")],
                              extra=["post_apply_command = python3 %s" % script,
                                     "post_apply_timeout = 30s"])
        d.start()
        alerts = self.wait_events(d, "anchor.refused", reason="anchor-in-use")
        refused = events(alerts, "anchor.refused")[0]
        dup = self.duplicate_id()
        self.assertEqual((refused["target"], refused["anchor"], refused["reference"],
                          refused["userId"]), ("john@contoso.com", ANCHOR, "CHG-1001", CLOUD_JOHN))
        self.assertIn("synced user", refused["message"])
        self.assertIn(dup, refused["message"])
        self.assertIn("out of sync scope", refused["message"])
        self.assertIn("deleted items", refused["message"])
        self.assertEqual(self.sim.writes(), [])

        # The admin removes the duplicate; the daemon applies on its next cycle.
        self.remove_duplicate()
        alerts = self.wait_events(d, "anchor.applied")
        applied = events(alerts, "anchor.applied")[0]
        self.assertEqual((applied["userId"], applied["anchor"], applied["source"],
                          applied["reference"], applied["oldValue"]),
                         (CLOUD_JOHN, ANCHOR, "csv", "CHG-1001", None))
        patches = self.patches()
        self.assertEqual(len(patches), 1)
        self.assertEqual((patches[0]["path"], patches[0]["body"], patches[0]["status"]),
                         ("/v1.0/users/" + CLOUD_JOHN, {"onPremisesImmutableId": ANCHOR}, 204))
        self.assertEqual(applied["clientRequestId"], patches[0]["client-request-id"])
        self.assertEqual(applied["patchRequestId"], patches[0]["request-id"])
        # PATCH, then a GET of the same user to verify.
        log = self.sim.graph_requests()
        i = [n for n, e in enumerate(log) if e["method"] == "PATCH"][0]
        self.assertTrue(any(e["method"] == "GET" and e["path"] == "/v1.0/users/" + CLOUD_JOHN
                            for e in log[i + 1:]))
        records = self.journal(d)
        self.assertEqual([r["kind"] for r in records], ["intent", "applied"])
        self.assertEqual(records[1]["clientRequestId"], patches[0]["client-request-id"])
        self.assertEqual((records[1]["userId"], records[1]["newValue"], records[1]["reference"],
                          records[1]["source"]), (CLOUD_JOHN, ANCHOR, "CHG-1001", "csv"))
        self.assertTrue(records[1]["patchRequestId"] and records[1]["getRequestId"])

        # post_apply_command ran the "delta sync": the export hard-matched.
        wait_until("post_apply_command", lambda: os.path.exists(marker))
        d.wait_for_log(r"post_apply_command: export: hard-matched")
        d.wait_for_log(r"post_apply_command exited with status 0")
        with open(marker) as f:
            env = json.loads(f.readline())
        self.assertEqual(env["QD_TENANT"], "e2e")
        self.assertEqual(env["QD_APPLIED_COUNT"], "1")
        self.assertEqual(env["QD_APPLIED"], "%s\tjohn@contoso.com\t%s\tCHG-1001\n"
                         % (CLOUD_JOHN, ANCHOR))
        self.assertFalse(any("secret" in v.lower() for v in env.values()))
        user = self.sim.tenant("/objects/" + CLOUD_JOHN)
        self.assertEqual((user["onPremisesSyncEnabled"], user["onPremisesImmutableId"],
                          user["userPrincipalName"]), (True, ANCHOR, "john@contoso.com"))
        self.assertEqual(self.sim.quarantines(), [])
        # The daemon reports the quarantine gone, and writes nothing more.
        alerts = d.wait_for_alerts(lambda a: {c["objectId"] for c in cleared(a)} == {dup})
        d.wait_for_log(r"tenant e2e: 0 conflicts")
        d.wait_for_more_cycles(2)
        self.assertEqual(len(self.patches()), 1)
        self.assertEqual(len(events(d.alerts(), "anchor.refused")), 1)
        d.stop()

    # ----- refusals ------------------------------------------------------------------------
    def test_suggestion_from_the_pair_is_applied_only_once_approved(self):
        """With no known anchors at all, the daemon derives the suggestion from the
        cloud-account pair itself; it is never applied until an admin approves it
        with quarantinectl, and then goes through the same guards."""
        d = self.apply_daemon([])
        d.start()
        d.wait_for_log(r"suggest: tenant e2e: suggested anchor %s for cloud-only user %s"
                       % (ANCHOR.replace("+", r"\+"), CLOUD_JOHN))
        done = len(d.cycles())
        d.wait_for_cycles(done + 2)
        self.assertEqual([a for a in d.alerts() if a["event"].startswith("anchor.")], [])
        self.assertEqual(self.sim.writes(), [])

        path = os.path.join(d.state_dir, "e2e.suggestions.csv")
        ctl = os.path.join(os.path.dirname(qd_bin()), "quarantinectl")
        out = subprocess.run([ctl, "suggestions", "approve", path, CLOUD_JOHN],
                             capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(out.returncode, 0, out.stderr)
        # Approved: the duplicate still holds the anchor, so it is refused first.
        refused = events(self.wait_events(d, "anchor.refused", reason="anchor-in-use"),
                         "anchor.refused")[0]
        self.assertEqual((refused["userId"], refused["anchor"]), (CLOUD_JOHN, ANCHOR))
        self.remove_duplicate()
        applied = events(self.wait_events(d, "anchor.applied"), "anchor.applied")[0]
        self.assertEqual((applied["userId"], applied["anchor"], applied["source"]),
                         (CLOUD_JOHN, ANCHOR, "suggestion"))
        self.assertEqual(len(self.patches()), 1)
        d.stop()

    def test_every_per_user_refusal_reason_is_alerted_once(self):
        self.sim.tenant("/apps", "POST", {"clientId": WRITER_ID, "secret": WRITER_SECRET,
                                          "roles": ["User.ReadWrite.All",
                                                    "RoleManagement.Read.Directory"]})
        gone = self.add_cloud_user("gone")
        self.sim.tenant("/objects/%s?mode=soft" % gone, "DELETE")
        has = self.add_cloud_user("has")
        self.sim.tenant("/objects/" + has, "PATCH", {"onPremisesImmutableId": new_anchor()})
        self.add_cloud_user("boss", adminRoles=["Global Administrator"])
        outsider = self.sim.tenant("/objects", "POST", {
            "objectType": "user", "userPrincipalName": "outsider@contoso.onmicrosoft.com"})["id"]
        dup = self.duplicate_id()
        rows = {"target-not-found": ("ghost@contoso.com", new_anchor(), "T-1"),
                "target-deleted": (gone, new_anchor(), "T-2"),
                "target-synced": (dup, new_anchor(), "T-3"),
                "target-has-anchor": ("has@contoso.com", new_anchor(), "T-4"),
                "not-allowed": (outsider, new_anchor(), "T-5"),
                "anchor-in-use": ("john@contoso.com", ANCHOR, "T-6"),
                "target-admin": ("boss@contoso.com", new_anchor(), "T-7")}
        d = self.apply_daemon(list(rows.values()))
        d.start()
        alerts = d.wait_for_alerts(
            lambda a: set(rows) <= {x.get("reason") for x in events(a, "anchor.refused")})
        for reason, (target, anchor, ref) in rows.items():
            got = events(alerts, "anchor.refused", reason)
            self.assertEqual([(a["target"], a["anchor"], a["reference"]) for a in got],
                             [(target, anchor, ref)], reason)
        self.assertIn("soft-deleted", events(alerts, "anchor.refused", "target-deleted")[0]["message"])
        self.assertIn("ExistingAdminRoleConflict",
                      events(alerts, "anchor.refused", "target-admin")[0]["message"])
        # Said once: more cycles and a restart add no alert.
        d.wait_for_more_cycles(2)
        d.stop()
        d.start()
        d.wait_for_more_cycles(3)
        self.assertEqual(len(events(d.alerts(), "anchor.refused")), len(rows))
        self.assertEqual(self.sim.writes(), [])
        d.stop()

    def test_takeover_blocked_refuses_everything(self):
        self.remove_duplicate()
        self.sim.settings(blockCloudObjectTakeoverThroughHardMatchEnabled=True)
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")])
        d.start()
        alerts = self.wait_events(d, "anchor.refused", reason="takeover-blocked")
        self.assertIn("InvalidHardMatch", events(alerts, "anchor.refused")[0]["message"])
        d.wait_for_more_cycles(2)
        self.assertEqual(self.sim.writes(), [])
        d.stop()

    def test_takeover_unreadable_refuses_unless_allowed(self):
        self.remove_duplicate()
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")], readable=False)
        d.start()
        alerts = self.wait_events(d, "anchor.refused", reason="takeover-unknown")
        self.assertIn("apply_takeover_unreadable = allow",
                      events(alerts, "anchor.refused")[0]["message"])
        d.wait_for_more_cycles(2)
        self.assertEqual(self.sim.writes(), [])
        d.stop()
        # The admin checked the feature by hand and says so.
        with open(d.conf_path, "a") as f:
            f.write("apply_takeover_unreadable = allow\n")
        d.start()
        self.wait_events(d, "anchor.applied")
        self.assertEqual(len(self.patches()), 1)
        d.stop()

    def test_bad_anchors_file_is_refused_with_file_and_line(self):
        self.remove_duplicate()
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1"),
                               ("mary@contoso.com", "c2hvcnQ=", "T-2")])
        check = subprocess.run([qd_bin(), "-n", "-f", d.conf_path], capture_output=True,
                               text=True, timeout=WAIT)
        self.assertEqual(check.returncode, 1)
        self.assertIn("%s:3: " % self.anchors_path, check.stderr)
        d.start()
        alerts = self.wait_events(d, "anchor.refused", reason="anchors-file-invalid")
        self.assertIn("%s:3: " % self.anchors_path, alerts[-1]["message"])
        d.wait_for_more_cycles(2)
        self.assertEqual(self.sim.writes(), [])
        self.assertEqual(len(events(d.alerts(), "anchor.refused")), 1)
        # Fixed (and the daemon reloaded): applied.
        self.write_anchors([("john@contoso.com", ANCHOR, "T-1")])
        d.proc.send_signal(signal.SIGHUP)
        self.wait_events(d, "anchor.applied")
        d.stop()

    # ----- policy --------------------------------------------------------------------------
    def test_cap_limits_writes_per_cycle(self):
        for i in range(5):
            self.add_cloud_user("cap%d" % i)
        rows = [("cap%d@contoso.com" % i, new_anchor(), "CAP-%d" % i) for i in range(5)]
        d = self.apply_daemon(rows, extra=["apply_max_per_cycle = 2"])
        d.start()
        self.wait_events(d, "anchor.applied", count=5)
        # The pass logs its count after its last alert.
        per_cycle = [int(line.split("tenant e2e: ")[1].split()[0])
                     for line in d.wait_for_log(r"values? applied this cycle", count=3)]
        self.assertEqual(per_cycle, [2, 2, 1])
        self.assertTrue(d.log_lines(r"apply_max_per_cycle \(2\) reached"))
        self.assertEqual(len(self.patches()), 5)
        d.stop()

    def test_threshold_stops_and_resumes_after_the_human_raises_it(self):
        rows = [("thr%d@contoso.com" % i, new_anchor(), "THR-%d" % i) for i in range(3)]
        for i in range(3):
            self.add_cloud_user("thr%d" % i)
        d = self.apply_daemon(rows, extra=["apply_threshold = 2"])
        d.start()
        alerts = self.wait_events(d, "anchor.halted", reason="threshold")
        self.assertIn("raise apply_threshold", events(alerts, "anchor.halted")[0]["message"])
        d.wait_for_more_cycles(2)
        self.assertEqual(len(self.patches()), 2)
        self.assertEqual(len(events(d.alerts(), "anchor.halted")), 1)
        # The human reviews the journal and raises the threshold.
        with open(d.conf_path) as f:
            conf = f.read()
        with open(d.conf_path, "w") as f:
            f.write(conf.replace("apply_threshold = 2", "apply_threshold = 10"))
        d.proc.send_signal(signal.SIGHUP)
        self.wait_events(d, "anchor.applied", count=3)
        self.assertEqual(len(self.patches()), 3)
        d.stop()

    def test_kill_switch_stops_writes_and_says_so_once(self):
        self.remove_duplicate()
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")])
        os.makedirs(d.state_dir, exist_ok=True)
        stop = os.path.join(d.state_dir, "e2e.stop")
        with open(stop, "w"):
            pass
        d.start()
        alerts = self.wait_events(d, "anchor.halted", reason="kill-switch")
        self.assertIn(stop, alerts[-1]["message"])
        d.wait_for_more_cycles(3)
        self.assertEqual(len(events(d.alerts(), "anchor.halted")), 1)
        self.assertEqual(self.sim.writes(), [])
        os.unlink(stop)
        self.wait_events(d, "anchor.applied")
        d.stop()

    def test_group_allow_list(self):
        self.remove_duplicate()
        group = self.sim.tenant("/objects", "POST", {"objectType": "group",
                                                     "displayName": "pilots"})["id"]
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")],
                              allow="apply_allow_groups = %s" % group)
        d.start()
        self.wait_events(d, "anchor.refused", reason="not-allowed")
        self.assertEqual(self.sim.writes(), [])
        self.sim.tenant("/objects/" + CLOUD_JOHN, "PATCH", {"_sim": {"memberOf": [group]}})
        # A new reference is a new request from the admin: looked at again.
        self.write_anchors([("john@contoso.com", ANCHOR, "T-2")])
        self.wait_events(d, "anchor.applied")
        d.stop()

    def test_post_apply_command_is_killed_after_its_timeout(self):
        self.remove_duplicate()
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")],
                              extra=["post_apply_command = echo syncing $QD_APPLIED_COUNT; "
                                     "sleep 60; echo never",
                                     "post_apply_timeout = 1s"])
        d.start()
        self.wait_events(d, "anchor.applied")
        d.wait_for_log(r"post_apply_command still runs after 1 s")
        d.wait_for_log(r"post_apply_command killed by signal 15 \(timeout\)")
        d.wait_for_log(r"post_apply_command: syncing 1")
        self.assertFalse(d.log_lines(r"post_apply_command: never"))
        d.stop()

    # ----- crash safety ----------------------------------------------------------------------
    def pending_intent(self, d):
        os.makedirs(d.state_dir, exist_ok=True)
        crid = str(uuid.uuid4())
        with open(os.path.join(d.state_dir, "e2e.journal.jsonl"), "w") as f:
            f.write(json.dumps({"kind": "intent", "when": "2024-05-06T08:00:00Z",
                                "tenant": "e2e", "userId": CLOUD_JOHN,
                                "upn": "john@contoso.com", "oldValue": None,
                                "newValue": ANCHOR, "source": "csv", "reference": "T-1",
                                "clientRequestId": crid}) + "\n")
        return crid

    def test_crash_after_the_patch_is_reconciled_without_a_second_patch(self):
        self.remove_duplicate()
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")])
        crid = self.pending_intent(d)
        # The PATCH went through before the crash.
        self.sim.tenant("/objects/" + CLOUD_JOHN, "PATCH", {"onPremisesImmutableId": ANCHOR})
        d.start()
        alerts = self.wait_events(d, "anchor.applied")
        self.assertEqual(alerts[-1]["reason"], "reconciled")
        d.wait_for_more_cycles(2)
        records = self.journal(d)
        self.assertEqual([(r["kind"], r.get("found")) for r in records],
                         [("intent", None), ("reconciled", True)])
        self.assertEqual(records[1]["clientRequestId"], crid)
        self.assertEqual(self.sim.writes(), [])
        d.stop()

    def test_crash_between_intent_and_patch_is_reconciled_then_applied_once(self):
        self.remove_duplicate()
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")])
        crid = self.pending_intent(d)
        d.start()
        self.wait_events(d, "anchor.applied")
        d.wait_for_more_cycles(2)
        records = self.journal(d)
        self.assertEqual([(r["kind"], r.get("found")) for r in records],
                         [("intent", None), ("reconciled", False), ("intent", None),
                          ("applied", None)])
        self.assertEqual(records[1]["clientRequestId"], crid)
        self.assertEqual(len(self.patches()), 1)
        d.stop()
        # A restart finds nothing to do.
        d.start()
        d.wait_for_cycles(3)
        self.assertEqual(len(self.patches()), 1)
        d.stop()

    # ----- off and dry-run -------------------------------------------------------------------
    def test_off_and_dry_run_write_nothing(self):
        self.remove_duplicate()
        # off (the default): no apply requests at all.
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")], mode="off")
        d.start()
        d.wait_for_cycles(3)
        d.stop()
        self.assertNoWrites()
        self.assertFalse([e for e in self.sim.graph_requests()
                          if "onPremisesSynchronization" in e["path"]])
        self.assertFalse([a for a in d.alerts() if a["event"].startswith("anchor.")])
        # dry-run: the exact PATCH, alerted once, never sent.
        with open(d.conf_path) as f:
            conf = f.read()
        with open(d.conf_path, "w") as f:
            f.write(conf.replace("apply_mode = off", "apply_mode = dry-run"))
        d.start()
        alerts = self.wait_events(d, "anchor.dry-run")
        self.assertIn('PATCH /v1.0/users/%s {"onPremisesImmutableId":"%s"}' % (CLOUD_JOHN, ANCHOR),
                      events(alerts, "anchor.dry-run")[0]["message"])
        d.wait_for_more_cycles(3)
        self.assertEqual(len(events(d.alerts(), "anchor.dry-run")), 1)
        d.stop()
        self.assertNoWrites()
        self.assertEqual(self.journal(d), [])


if __name__ == "__main__":
    unittest.main()
