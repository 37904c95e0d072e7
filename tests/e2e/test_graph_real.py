"""End-to-end: the daemon against Graph as it really behaves (issue 15): expired page
tokens mid-paging, gzip, eventual consistency of holder lookups, and holders in the
recycle bin.  Each test switches the behaviour on in the simulator and asserts what an
administrator would notice: alerts, log lines, the state file and the request log."""

import os

from tests.e2e.harness import E2ETestCase, alert_key, detected


class GraphRealE2E(E2ETestCase):

    def state_path(self, d):
        return os.path.join(d.state_dir, "%s.state.json" % d.name)

    # ----- expired page tokens ---------------------------------------------------------------
    def test_expired_page_token_restarts_that_listing(self):
        """One 400 Directory_ExpiredPageToken part-way through the users listing: the
        daemon lists users again from the first page and the cycle completes with
        exactly the simulator's conflicts."""
        expected = self.sim.expected_conflicts()
        self.sim.add_faults({"kind": "expired-page-token", "count": 1,
                             "path": "/v1.0/users"})
        d = self.daemon().start()
        d.wait_for_cycles(1)
        self.assertEqual(d.cycles()[0], (len(expected), len(expected), 0))
        self.assertEqual({alert_key(a) for a in detected(d.alerts())}, expected)
        line = d.wait_for_log(r"the page token of users expired")[0]
        self.assertIn("listing users again", line)
        self.assertEqual(d.log_lines("cycle failed"), [])
        reqs = self.sim.graph_requests()
        faulted = [e for e in reqs if e.get("fault") == "expired-page-token"]
        self.assertEqual(len(faulted), 1)
        # The restart is the first page again (no page token), sent after the 400.
        firsts = [e for e in reqs if e["seq"] > faulted[0]["seq"]
                  and e["path"] == "/v1.0/users" and "$skiptoken" not in e["query"]]
        self.assertTrue(firsts, "users was not listed again from its first page")
        d.stop()

    def test_page_token_expiring_past_the_bound_fails_the_cycle_without_state(self):
        """The page token keeps expiring: after a bounded number of restarts the cycle
        fails, raises no alert and writes no state; the next cycle (faults used up)
        completes."""
        expected = self.sim.expected_conflicts()
        self.sim.add_faults({"kind": "expired-page-token", "count": 4,
                             "path": "/v1.0/users"})
        d = self.daemon().start()
        d.wait_for_log(r"the page token of users expired 4 times", timeout=40)
        line = d.wait_for_log(r"cycle failed")[0]
        self.assertIn("Directory_ExpiredPageToken", line)
        self.assertEqual(d.alerts(), [])
        self.assertFalse(os.path.exists(self.state_path(d)), "a failed cycle wrote state")
        self.assertEqual(len(d.log_lines(r"listing users again")), 3)
        d.wait_for_cycles(1, timeout=40)
        self.assertEqual({alert_key(a) for a in detected(d.alerts())}, expected)
        d.stop()

    # ----- gzip ------------------------------------------------------------------------------
    def test_gzip_is_asked_for_and_decoded(self):
        """The daemon asks for compressed answers (CURLOPT_ACCEPT_ENCODING) and reads
        them: the simulator compresses every Graph answer, and the cycle is right."""
        expected = self.sim.expected_conflicts()
        d = self.daemon().start()
        d.wait_for_cycles(1)
        self.assertEqual({alert_key(a) for a in detected(d.alerts())}, expected)
        graph = self.sim.graph_requests()
        self.assertTrue(graph)
        for e in graph:
            self.assertIn("gzip", e["headers"].get("accept-encoding", ""), e)
            self.assertEqual(e.get("contentEncoding"), "gzip", e)
        d.stop()


if __name__ == "__main__":
    import unittest
    unittest.main()
