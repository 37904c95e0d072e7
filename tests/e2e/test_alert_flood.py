# SPDX-License-Identifier: MIT
"""Flood control: past flood_limit alerts in one cycle, the rest go to the file
sinks only, and one alert.flood summary (the count held back, the counts per
type, the first keys) goes everywhere after them.

A local syslog sink on a socket the test binds stands for a SIEM: it receives
the first flood_limit alerts of the cycle and the summary, nothing else; the
JSON lines file has every alert, then the summary.
"""
import json
import os
import socket

from tests.e2e.harness import E2ETestCase, wait_until
from tests.e2e.test_alert_selfalert import with_alert_options

LIMIT = 2


class AlertFlood(E2ETestCase):

    def test_summary_past_the_limit(self):
        d = self.daemon()
        path = os.path.join(self.workdir, "log.sock")
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.bind(path)
        self.addCleanup(rx.close)
        with_alert_options(d, flood_limit=LIMIT)
        with open(d.conf_path, "a") as f:
            f.write("\n[sink siem]\ntype = syslog\nsocket = %s\nformat = json\n" % path)
        d.start()
        d.wait_for_cycles(1)

        def summary():
            alerts = d.alerts()
            at = [i for i, a in enumerate(alerts) if a["event"] == "alert.flood"]
            return (alerts, at[0]) if at else None
        alerts, at = wait_until("the alert.flood summary in the file", summary)
        cycle = alerts[:at]
        self.assertGreater(len(cycle), LIMIT)
        flood = alerts[at]
        self.assertEqual(flood["count"], len(cycle) - LIMIT)
        self.assertEqual(flood["keys"], [a["conflictKey"] for a in cycle[LIMIT:]][:10])
        self.assertIn("over the limit of %d" % LIMIT, flood["cause"])
        self.assertEqual([a for a in alerts[at + 1:] if a["event"] == "alert.flood"], [])

        # The syslog sink: the first LIMIT alerts, then the summary, in order.
        got = []
        rx.settimeout(30)
        while not got or got[-1]["event"] != "alert.flood":
            data = rx.recv(1 << 16).decode()
            got.append(json.loads(data[data.index("]: ") + 3:]))
        self.assertEqual([a["id"] for a in got],
                         [a["id"] for a in cycle[:LIMIT]] + [flood["id"]])
        d.stop()
