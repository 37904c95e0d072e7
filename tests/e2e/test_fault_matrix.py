"""End to end: the fault matrix.  Each case starts one fault after the daemon has
detected the tenant's conflicts, keeps it up until /readyz says the daemon is not ready,
then stops it, and checks what an admin would notice: the daemon stays up, readiness
reflects the fault and comes back, no conflict changes state on partial data, no alert
is lost or repeated, it recovers by itself, and the episode costs at most one line at
warning level or above, none of them long.  The faults put on the simulator's answers
are here; those of the daemon's own machine (clock, disk, spool) are in
test_fault_host.py, which shares FaultEpisode."""

import re
import urllib.error
import urllib.request

from tests.e2e.harness import E2ETestCase, alert_key, cleared, detected

# kind -> (fault spec, extra [daemon] options)
CASES = {
    "429_with_retry_after": ({"kind": "429", "retryAfter": "1"}, ()),
    "429_without_retry_after": ({"kind": "429", "retryAfter": "none"}, ()),
    "500": ({"kind": "500"}, ()),
    "502": ({"kind": "502"}, ()),
    "503": ({"kind": "503", "retryAfter": "none"}, ()),
    "504": ({"kind": "504"}, ()),
    "reset_mid_request": ({"kind": "reset"}, ()),
    "hang_past_the_timeout": ({"kind": "hang", "seconds": 4}, ("http_timeout = 2s",)),
    "truncated_json": ({"kind": "truncated"}, ()),
    "malformed_json": ({"kind": "malformed"}, ()),
    "wrong_content_type": ({"kind": "content-type"}, ()),
    "oversized_body": ({"kind": "oversized", "bytes": 1 << 20},
                       ("max_response_size = 64K",)),
    "token_endpoint_down": ({"kind": "503", "includeToken": True, "path": "/oauth2/"}, ()),
    # A token revoked between two pages of the listing of users: 401 on the next page.
    "401_mid_paging": ({"kind": "revoked-token"}, ()),
}

LEVEL_RE = re.compile(r"quarantined\[\d+\]: (warning|error|critical|alert|emergency): ")
# A fault lasts until the daemon is not ready: far more requests than that takes.
LASTING = 100000


def readyz(d):
    """(status, text) of the daemon's /readyz; no proxy is ever used."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(d.health_url() + "readyz", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


class FaultEpisode:
    """Mixin of E2ETestCase: one episode of a fault, asserted as the module says."""

    def wait_ready(self, d, ready):
        what = "/readyz to say %s" % ("ready" if ready else "not ready")
        return d.wait(what, lambda: (readyz(d)[0] == 200) == ready or None,
                      detail=lambda: "; /readyz: %s %s" % readyz(d))

    def episode(self, d, start, stop, loud_per=("",), expect_not_ready=True):
        """d has completed one cycle; start() begins the fault, stop() ends it.  The
        tenant may change meanwhile: every conflict the simulator reports at the end
        must have been alerted exactly once.  loud_per: the episode may log one line at
        warning level or above per word of it found in the line ("": one in all), e.g.
        one per file a full disk refuses.  expect_not_ready: False when the fault may
        be too short for /readyz to show (it is then not waited for)."""
        before_expected = self.sim.expected_conflicts()
        self.assertEqual(d.cycles()[0], (len(before_expected), len(before_expected), 0))
        self.wait_ready(d, True)
        before = len(d.log().splitlines())
        start()
        if expect_not_ready:
            self.wait_ready(d, False)
        self.assertTrue(d.running())
        stop()
        self.wait_ready(d, True)
        # Recovered by itself: a whole cycle after the fault, nothing new, nothing gone.
        expected = self.sim.expected_conflicts()
        d.wait_for_alerts(lambda a: len(detected(a)) >= len(expected))
        done = len(d.cycles())
        self.assertEqual(d.wait_for_cycles(done + 1)[done], (len(expected), 0, 0))
        self.assertTrue(d.running())
        alerts = d.alerts()
        self.assertEqual(cleared(alerts), [], "a conflict changed state on partial data")
        self.assertEqual(sorted(alert_key(a) for a in detected(alerts)), sorted(expected),
                         "an alert was lost or repeated")
        episode = d.log().splitlines()[before:]
        loud = [line for line in episode if LEVEL_RE.search(line)]
        for word in loud_per:
            these = [line for line in loud if word in line]
            self.assertLessEqual(len(these), 1, "more than one warning (%r) for one "
                                 "episode:\n%s" % (word, "\n".join(loud)))
        self.assertLessEqual(len(loud), len(loud_per), "\n".join(loud))
        for line in loud:
            self.assertLess(len(line), 400, "a long warning: %s" % line)
        return episode


class FaultMatrixE2E(FaultEpisode, E2ETestCase):
    def run_case(self, spec, options):
        d = self.daemon(daemon_options=list(options)).start()
        d.wait_for_cycles(1)
        spec = dict(spec, count=LASTING)
        spec.setdefault("path", "/v1.0/users")

        def start():
            if spec.get("includeToken"):
                self.sim.expire_tokens()  # the next cycle must ask for a new one
            self.sim.add_faults(spec)

        def stop():
            applied = sum(f["applied"] for f in self.sim.faults())
            self.assertGreater(applied, 0, "the fault never hit a request")
            self.sim.control("DELETE", "faults")

        self.episode(d, start, stop)
        d.stop()

    def test_connection_refused(self):
        """The simulator stops (nothing listens on its port), then starts again on the
        same port with the same tenant."""
        d = self.daemon().start()
        d.wait_for_cycles(1)
        port = self.sim.port

        def start():
            self.sim.stop()

        def stop():
            self.sim.start(port=port)
            self.sim.load(self.scenario)

        self.episode(d, start, stop)
        d.stop()


def _make(name, spec, options):
    def test(self):
        self.run_case(spec, options)
    test.__doc__ = "fault: %s" % name
    return test


for _name, (_spec, _options) in CASES.items():
    setattr(FaultMatrixE2E, "test_" + _name, _make(_name, _spec, _options))
