"""Transport and process behaviour: HTTPS with the harness CA, plain HTTP, the CLI,
port file, loopback-only binding, SIGTERM, several tenants in one process."""

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

from simtest import CONTOSO, FABRIKAM, READER, ROOT, SCENARIOS, SimTestCase, cert_dir

GRAPHSIM = os.path.join(ROOT, "scripts", "graphsim")


class HttpsTest(SimTestCase):
    scenario = "multi-tenant.json"

    def test_https_with_harness_ca(self):
        self.assertTrue(self.base.startswith("https://127.0.0.1:"))
        reply = self.graph("GET", "/users?$top=1")
        self.assertEqual(reply.status, 200)
        self.assertTrue(reply.header("Content-Type").startswith("application/json"))

    def test_certificate_not_trusted_without_ca(self):
        with self.assertRaises(urllib.error.URLError) as ctx:
            urllib.request.urlopen(self.base + "/_sim/health", timeout=10,
                                   context=ssl.create_default_context())
        self.assertIsInstance(ctx.exception.reason, ssl.SSLCertVerificationError)

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        import http.client
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.server_address[1],
                                           context=self.client_ctx, timeout=10)
        token = self.token()
        for _ in range(3):
            conn.request("GET", "/v1.0/users?$top=1", headers={"Authorization": "Bearer " + token})
            resp = conn.getresponse()
            body = resp.read()
            self.assertEqual(resp.status, 200)
            self.assertEqual(int(resp.getheader("Content-Length")), len(body))
        conn.close()

    def test_responses_are_not_held_back_by_nagle(self):
        """Headers and body are two writes; the server turns Nagle off so a short
        body is not held until the client's delayed ACK (a ~40 ms stall per
        response that would distort `make bench`)."""
        from graphsimlib import server as server_module
        seen = []
        original = server_module.Handler.setup

        def setup(handler):
            original(handler)
            seen.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        server_module.Handler.setup = setup
        try:
            self.assertEqual(self.graph("GET", "/users?$top=1").status, 200)
        finally:
            server_module.Handler.setup = original
        self.assertTrue(seen)
        self.assertTrue(all(seen), seen)

    def test_two_tenants_are_isolated_by_token(self):
        contoso = self.token(tenant=CONTOSO)
        fabrikam = self.token(tenant="fabrikam.com", client_id="4d5e6f70-8192-4a0b-9ecf-3a4b5c6d7e8f",
                              secret="fabrikam-secret")
        c_users, _ = self.get_all("/users?$select=userPrincipalName", contoso)
        f_users, _ = self.get_all("/users?$select=userPrincipalName", fabrikam)
        self.assertTrue(all(u["userPrincipalName"].endswith("contoso.com") or
                            u["userPrincipalName"].endswith("contoso.onmicrosoft.com") for u in c_users))
        self.assertEqual(sorted(u["userPrincipalName"] for u in f_users),
                         ["kate@fabrikam.com", "leo@fabrikam.com"])
        # An app of one tenant does not exist in the other.
        reply = self.token_reply(tenant=FABRIKAM, client_id=READER)
        self.assertEqual(reply.json["error_codes"], [700016])


class PlainHttpTest(SimTestCase):
    scenario = "two-synced-proxy.json"
    tls = False

    def test_plain_http(self):
        self.assertTrue(self.base.startswith("http://127.0.0.1:"))
        reply = self.graph("GET", "/users?$select=id,userPrincipalName")
        self.assertEqual(reply.status, 200)
        self.assertEqual(len(reply.json["value"]), 2)


class CliTest(unittest.TestCase):
    def _start(self, *args):
        tmp = tempfile.mkdtemp(prefix="graphsim-cli-")
        port_file = os.path.join(tmp, "port")
        proc = subprocess.Popen([sys.executable, GRAPHSIM, "--port", "0", "--port-file", port_file]
                                + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        line = proc.stdout.readline()
        return proc, port_file, line

    def test_https_port_file_banner_and_sigterm(self):
        d = cert_dir()
        proc, port_file, line = self._start(
            "--tls-cert", os.path.join(d, "server.pem"), "--tls-key", os.path.join(d, "server.key"),
            "--scenario", os.path.join(SCENARIOS, "existing-cloud-account.json"))
        try:
            with open(port_file) as f:
                port = int(f.read().strip())
            self.assertEqual(line.strip(), "graphsim: listening on https://127.0.0.1:%d" % port)
            ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
            with urllib.request.urlopen("https://localhost:%d/_sim/tenants" % port, context=ctx,
                                        timeout=10) as resp:
                self.assertIn(CONTOSO, resp.read().decode())
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
            proc.stdout.close()
            proc.stderr.close()

    def test_plain_http_and_sigint(self):
        proc, port_file, line = self._start()
        try:
            self.assertTrue(line.startswith("graphsim: listening on http://127.0.0.1:"), line)
        finally:
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(timeout=10), 0)
            proc.stdout.close()
            proc.stderr.close()

    def test_refuses_non_loopback(self):
        proc = subprocess.run([sys.executable, GRAPHSIM, "--host", "0.0.0.0", "--port", "0"],
                              capture_output=True, text=True, timeout=20)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("non-loopback", proc.stderr)

    def test_ipv6_loopback(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        try:
            s = socket.socket(socket.AF_INET6)
            s.bind(("::1", 0))
            s.close()
        except OSError:
            self.skipTest("::1 not configured")
        proc, port_file, line = self._start("--host", "::1")
        try:
            self.assertTrue(line.startswith("graphsim: listening on http://[::1]:"), line)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            proc.stdout.close()
            proc.stderr.close()

    def test_help_documents_every_option(self):
        out = subprocess.run([sys.executable, GRAPHSIM, "--help"], capture_output=True, text=True,
                             timeout=20).stdout
        for option in ("--host", "--port", "--port-file", "--tls-cert", "--tls-key", "--scenario",
                       "--token-lifetime", "--sweep-interval", "--clock", "--log-requests",
                       "--verbose", "generate"):
            self.assertIn(option, out)
        gen = subprocess.run([sys.executable, GRAPHSIM, "generate", "--help"], capture_output=True,
                             text=True, timeout=20).stdout
        for option in ("--users", "--conflicts", "--groups", "--contacts", "--seed", "--out",
                       "--expand"):
            self.assertIn(option, gen)

    def test_request_log_file(self):
        tmp = tempfile.mkdtemp(prefix="graphsim-log-")
        log = os.path.join(tmp, "requests.jsonl")
        proc, port_file, line = self._start("--log-requests", log)
        try:
            with open(port_file) as f:
                port = int(f.read())
            with self.assertRaises(urllib.error.HTTPError) as ctx:
                urllib.request.urlopen("http://127.0.0.1:%d/v1.0/users" % port, timeout=10)
            ctx.exception.close()
            self.assertEqual(ctx.exception.code, 401)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            proc.stdout.close()
            proc.stderr.close()
        with open(log) as f:
            entries = [__import__("json").loads(x) for x in f]
        self.assertEqual(entries[0]["path"], "/v1.0/users")
        self.assertEqual(entries[0]["status"], 401)
        self.assertFalse(entries[0]["hasAuthorization"])


if __name__ == "__main__":
    unittest.main()
