"""End to end: the apply promise when Graph's answer to the PATCH is unclear.

A PATCH that times out, is reset or gets a 5xx may or may not have been processed by
Graph.  The daemon must not send it again; it journals "indoubt", waits apply_settle,
and settles the intent from reads: applied when a read shows the value, not applied
after apply_settle_reads reads without it, and only then writes that user again.  What
counts is what Graph processed: the simulator's write log."""

import os

from tests.e2e import test_apply
from tests.e2e.test_apply import ANCHOR, CLOUD_JOHN, events


class NeverTwiceE2E(test_apply.ApplyTestCase):
    def kinds(self, d):
        return [(r["kind"], r.get("found")) for r in self.journal(d)]

    def patches_of(self, user_id):
        return [w for w in self.patches() if user_id in w.get("path", "")]

    def test_patch_processed_after_the_timeout_is_settled_as_applied(self):
        self.remove_duplicate()
        # Graph answers the PATCH after 4 s; the daemon gives up after 2 s, but the
        # simulator still applies it, as a server does with a request it has begun.
        self.sim.add_faults({"kind": "delay", "method": "PATCH", "seconds": 4})
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")],
                              daemon_options=["http_timeout = 2s"],
                              extra=["apply_settle = 5s"])
        d.start()
        self.wait_events(d, "anchor.applied")
        d.wait_for_more_cycles(2)
        # Seen by a re-read of the verification, or else settled from reads later.
        self.assertIn(self.kinds(d), ([("intent", None), ("applied", None)],
                                      [("intent", None), ("indoubt", None),
                                       ("reconciled", True)]))
        self.assertEqual(len(self.patches_of(CLOUD_JOHN)), 1)
        self.assertEqual(events(d.alerts(), "anchor.failed"), [])
        # The PATCH request itself was sent once: no retry of a write.
        sent = [r for r in self.sim.requests() if r["method"] == "PATCH"]
        self.assertEqual(len(sent), 1)
        d.stop()

    def unclear_then_applied_once(self, kind):
        """kind: a fault on the PATCH whose answer leaves it open whether Graph
        processed it; the simulator did not.  The daemon does not send it again at
        once: it settles the intent as not applied, then writes it once."""
        self.remove_duplicate()
        self.sim.add_faults({"kind": kind, "method": "PATCH"})
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")])
        d.start()
        d.wait_for_log(r"Graph may or may not have applied it")
        self.wait_events(d, "anchor.applied")
        d.wait_for_more_cycles(2)
        self.assertEqual(self.kinds(d),
                         [("intent", None), ("indoubt", None), ("reconciled", False),
                          ("intent", None), ("applied", None)])
        # Two PATCH requests over time, one processed by Graph, none while in doubt.
        self.assertEqual(len(self.patches_of(CLOUD_JOHN)), 1)
        self.assertEqual(len(d.log_lines(r"settled from Graph: not applied")), 1)
        self.assertEqual(events(d.alerts(), "anchor.failed"), [])
        d.stop()

    def test_patch_reset_is_settled_as_not_applied_then_applied_once(self):
        self.unclear_then_applied_once("reset")

    def test_patch_500_is_not_retried_at_once(self):
        self.unclear_then_applied_once("500")

    def test_patch_504_is_not_retried_at_once(self):
        self.unclear_then_applied_once("504")

    def test_no_write_to_a_user_before_its_intent_is_settled(self):
        # A crash left an intent without an outcome; Graph does not show its value.
        self.remove_duplicate()
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-2")],
                              extra=["apply_settle = 4s", "apply_settle_reads = 3"])
        crid = self.pending_intent(d)
        d.start()
        d.wait_for_log(r"its PATCH may still be in progress at Graph")
        self.wait_events(d, "anchor.applied")
        records = self.journal(d)
        self.assertEqual(records[1]["clientRequestId"], crid)
        self.assertEqual(len(d.log_lines(r"shows onPremisesImmutableId not set; read "
                                         r"again next cycle")), 2)
        # The new write came only after the third read settled the old intent.
        settled = [i for i, r in enumerate(records) if r["kind"] == "reconciled"]
        written = [i for i, r in enumerate(records) if r["kind"] == "intent"][1]
        self.assertLess(settled[0], written)
        self.assertEqual(len(self.patches_of(CLOUD_JOHN)), 1)
        d.stop()

    def test_a_bad_middle_journal_line_is_alerted_once(self):
        # A line cut in the middle of the journal (not a torn last line): nothing is
        # applied, file.unreadable is raised once, and the log says it once.
        self.remove_duplicate()
        d = self.apply_daemon([("john@contoso.com", ANCHOR, "T-1")])
        self.pending_intent(d)
        path = os.path.join(d.state_dir, "e2e.journal.jsonl")
        with open(path) as f:
            intent = f.read()
        with open(path, "w") as f:
            f.write(intent + '{"kind":"applied","when":\n' + intent)
        d.start()
        d.wait_for_cycles(4)
        bad = events(d.alerts(), "file.unreadable")
        self.assertEqual(len(bad), 1, bad)
        self.assertEqual(bad[0]["path"], path)
        self.assertEqual(len(d.log_lines(r"nothing is applied until the journal can be "
                                         r"read")), 1)
        self.assertEqual(self.patches(), [])
        d.stop()
