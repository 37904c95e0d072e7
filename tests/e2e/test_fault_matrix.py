"""End to end: the fault matrix.  Each case puts one transient fault on the listing of
users (the next two attempts of a request) after the daemon has detected the tenant's
conflicts, and checks what an admin would notice: the daemon stays up, no conflict
changes state on partial data, no alert is lost or repeated, it recovers by itself,
and the episode costs at most one line at warning level or above, none of them long."""

import re

from tests.e2e.harness import E2ETestCase, cleared, detected, wait_until

# kind -> (fault spec, extra [daemon] options)
CASES = {
    "429_with_retry_after": ({"kind": "429", "retryAfter": "1"}, ()),
    "429_without_retry_after": ({"kind": "429", "retryAfter": "none"}, ()),
    "500": ({"kind": "500"}, ()),
    "502": ({"kind": "502"}, ()),
    "503": ({"kind": "503", "retryAfter": "none"}, ()),
    "504": ({"kind": "504"}, ()),
    "reset_mid_request": ({"kind": "reset"}, ()),
    "hang_past_the_timeout": ({"kind": "hang", "seconds": 6}, ("http_timeout = 2s",)),
    "truncated_json": ({"kind": "truncated"}, ()),
    "malformed_json": ({"kind": "malformed"}, ()),
    "wrong_content_type": ({"kind": "content-type"}, ()),
    "oversized_body": ({"kind": "oversized", "bytes": 1 << 20},
                       ("max_response_size = 64K",)),
    "token_endpoint_down": ({"kind": "503", "includeToken": True, "path": "/oauth2/"}, ()),
}

LEVEL_RE = re.compile(r"quarantined\[\d+\]: (warning|error|critical|alert|emergency): ")


class FaultMatrixE2E(E2ETestCase):
    def run_case(self, spec, options):
        expected = self.sim.expected_conflicts()
        d = self.daemon(daemon_options=list(options)).start()
        d.wait_for_cycles(1)
        self.assertEqual(d.cycles()[0], (len(expected), len(expected), 0))
        if spec.get("includeToken"):
            self.sim.expire_tokens()  # the next cycle must ask for a new one
        spec = dict(spec, count=2)
        spec.setdefault("path", "/v1.0/users")
        before = len(d.log().splitlines())
        self.sim.add_faults(spec)
        wait_until("the fault used up", lambda: not self.sim.faults())
        done = len(d.cycles())
        # Recovered by itself: a whole cycle after the fault, nothing new, nothing gone.
        self.assertEqual(d.wait_for_cycles(done + 1)[done], (len(expected), 0, 0))
        self.assertTrue(d.running())
        alerts = d.alerts()
        self.assertEqual(cleared(alerts), [], "a conflict changed state on partial data")
        self.assertEqual(len(detected(alerts)), len(expected), "an alert was repeated")
        episode = d.log().splitlines()[before:]
        loud = [line for line in episode if LEVEL_RE.search(line)]
        self.assertLessEqual(len(loud), 1, "more than one warning for one episode:\n"
                             + "\n".join(loud))
        for line in loud:
            self.assertLess(len(line), 400, "a long warning: %s" % line)
        d.stop()


def _make(name, spec, options):
    def test(self):
        self.run_case(spec, options)
    test.__doc__ = "fault: %s" % name
    return test


for _name, (_spec, _options) in CASES.items():
    setattr(FaultMatrixE2E, "test_" + _name, _make(_name, _spec, _options))
