# SPDX-License-Identifier: MIT
"""Remote syslog over TLS (RFC 5425) to a receiver on loopback.

The receiver is Python's ssl module with the test CA's server certificate; the
daemon must verify it against ca_file and deliver every alert, octet-counted,
in order.  A sink that trusts another CA must refuse the receiver, say why in
the log, and keep its alerts spooled.
"""
import os
import ssl
import subprocess

from tests.e2e.harness import E2ETestCase, cert_dir, wait_until
from tests.e2e.test_alert_formats import OctetReceiver, parse_5424


class TLSReceiver(OctetReceiver):
    """RFC 5425 receiver: TLS, then RFC 6587 octet-counted frames."""

    def __init__(self):
        certs = cert_dir()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(certs, "server.pem"),
                                 os.path.join(certs, "server.key"))
        self.handshakes = 0
        super().__init__()

    def read(self, conn):
        try:
            tconn = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        with self.lock:
            self.handshakes += 1
        with tconn:
            try:
                self.frames_from(tconn)
            except (ssl.SSLError, OSError):
                pass


class AlertTLS(E2ETestCase):

    def test_verified_receiver_gets_every_alert_in_order(self):
        good, bad = TLSReceiver(), TLSReceiver()
        self.addCleanup(good.close)
        self.addCleanup(bad.close)
        other = os.path.join(self.workdir, "other-ca")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-subj", "/CN=another CA", "-days", "2",
                        "-keyout", other + ".key", "-out", other + ".pem"],
                       check=True, capture_output=True)
        d = self.daemon()
        with open(d.conf_path, "a") as f:
            f.write("\n[sink good]\ntype = tls\nhost = 127.0.0.1\nport = %d\nca_file = %s\n"
                    % (good.port, os.path.join(cert_dir(), "ca.pem")))
            f.write("\n[sink bad]\ntype = tls\nhost = 127.0.0.1\nport = %d\nca_file = %s\n"
                    % (bad.port, other + ".pem"))
        d.start()
        d.wait_for_cycles(1)
        ids = [a["id"] for a in d.alerts()]
        self.assertTrue(ids)

        got = wait_until("every alert over TLS", lambda: (
            [parse_5424(f)["params"]["id"] for f in list(good.frames)]
            if len(good.frames) >= len(ids) else None))
        self.assertEqual(got[:len(ids)], ids)
        self.assertEqual(len(set(got)), len(got), "an alert came twice")

        d.wait_for_log(r"sink bad: .*certificate verify failed")
        self.assertEqual(bad.frames, [])
        self.assertEqual(bad.handshakes, 0)
        d.stop()
