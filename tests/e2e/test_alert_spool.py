# SPDX-License-Identifier: MIT
"""A sink's spool past spool_max: new alerts to it are dropped and counted,
one log line and one spool.full alert say so (once per episode, to every sink
that takes it: here the JSON lines file), and the file sink still gets every
alert."""
from tests.e2e.harness import E2ETestCase, wait_until
from tests.e2e.test_alert_rsyslog import free_port


class AlertSpool(E2ETestCase):

    def test_full_spool_alerts_once_and_counts(self):
        d = self.daemon()
        with open(d.conf_path, "a") as f:
            # Nothing listens on the port: every alert stays in the spool.
            f.write("\n[sink siem]\ntype = tcp\nhost = 127.0.0.1\nport = %d\n"
                    "spool_max = 4K\n" % free_port())
        d.start()
        d.wait_for_cycles(1)

        def full():
            return [a for a in d.alerts() if a["event"] == "spool.full"]
        alerts = d.alerts()
        got = wait_until("spool.full in the JSON lines file", full)
        self.assertEqual(len(got), 1, got)
        self.assertEqual(got[0]["sink"], "siem")
        self.assertGreaterEqual(got[0]["count"], 1)
        self.assertEqual(got[0]["severity"], "critical")
        self.assertIn("siem", got[0]["message"])
        # More cycles, more drops: still one line and one alert.
        d.wait_for_more_cycles(2)
        self.assertEqual(len(full()), 1)
        self.assertEqual(len(d.log_lines(r"sink siem: spool full")), 1, d.log_tail())
        self.assertTrue([a for a in alerts if a["event"] == "conflict.detected"])
        d.stop()
