# SPDX-License-Identifier: MIT
"""Alerts about the daemon itself, each once per episode.

An expired client secret (AADSTS7000222) raises credential.expired once and,
after failing_cycles failed cycles, tenant.failing once with the AADSTS code
as its cause, however many cycles fail afterwards.  A token service answering
503 for a while raises tenant.failing with "HTTP 503", and the first complete
cycle after it raises tenant.recovered once.
"""
from tests.e2e.harness import E2ETestCase, wait_until

EXPIRED_ID = "2b3c4d5e-6f70-4a8b-9cad-1e2f3a4b5c6d"


def with_alert_options(d, **options):
    with open(d.conf_path) as f:
        text = f.read()
    extra = "".join("%s = %s\n" % kv for kv in options.items())
    with open(d.conf_path, "w") as f:
        f.write(text.replace("[alerts]\n", "[alerts]\n" + extra, 1))


class AlertSelf(E2ETestCase):

    def events(self, d, name):
        return [a for a in d.alerts() if a["event"] == name]

    def test_expired_secret_alerts_once(self):
        d = self.daemon(client_id=EXPIRED_ID, secret="expired-secret")
        with_alert_options(d, failing_cycles=2)
        d.start()
        d.wait_for_log(r"cycle failed", count=4, timeout=60)
        expired = self.events(d, "credential.expired")
        failing = self.events(d, "tenant.failing")
        self.assertEqual(len(expired), 1, expired)
        self.assertEqual(expired[0]["code"], "AADSTS7000222")
        self.assertEqual(len(failing), 1, failing)
        self.assertEqual(failing[0]["code"], "AADSTS7000222")
        self.assertEqual(failing[0]["count"], 2)
        self.assertIn("AADSTS7000222", failing[0]["message"])
        self.assertNotIn("expired-secret", d.log() + repr(d.alerts()))
        d.stop()

    def test_failing_then_recovered(self):
        self.sim.add_faults({"kind": "503", "count": 1000, "path": "/oauth2/v2.0/token",
                             "retryAfter": "0", "includeToken": True})
        d = self.daemon()
        with_alert_options(d, failing_cycles=2)
        d.start()
        failing = wait_until("tenant.failing", lambda: self.events(d, "tenant.failing"),
                             timeout=90)
        self.assertEqual(failing[0]["code"], "HTTP 503")
        self.sim.control("DELETE", "faults")
        wait_until("tenant.recovered", lambda: self.events(d, "tenant.recovered"), timeout=60)
        d.wait_for_more_cycles(1)
        self.assertEqual(len(self.events(d, "tenant.failing")), 1)
        self.assertEqual(len(self.events(d, "tenant.recovered")), 1)
        d.stop()

    def test_unreadable_anchors_file_alerts_once(self):
        import os
        anchors = os.path.join(self.workdir, "anchors.csv")
        with open(anchors, "w") as f:
            f.write("")
        d = self.daemon(tenant_lines=["apply_mode = dry-run", "anchors_file = %s" % anchors])
        os.chmod(anchors, 0)
        if os.access(anchors, os.R_OK):  # root reads anything: take the file away
            os.unlink(anchors)
        d.start()
        d.wait_for_cycles(3)
        gone = self.events(d, "file.unreadable")
        self.assertEqual(len(gone), 1, gone)
        self.assertEqual(gone[0]["path"], anchors)
        self.assertIn(gone[0]["code"], ("ENOENT", "EACCES"))
        d.stop()
