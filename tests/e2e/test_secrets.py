"""End to end: no secret leaves the daemon.

Two tenants, one with a client secret and one with a certificate and private key, run
against the simulator with the debug log on, the apply engine in dry-run, and every
output the daemon has.  The client secret, lines of the private key and every access
token the simulator issued must appear in none of them: the log, the alerts file, a CEF
file sink, every file of the state directory (state, journal, suggestions, refusal
memory, the sinks' spools), /status.json and /metrics, the process's command line and
environment."""

import json
import os
import subprocess
import urllib.request
import uuid

from tests.e2e.harness import DEMO, TENANT_ID, E2ETestCase

SECRET = "qd-secret-" + uuid.uuid4().hex
CERT_APP = str(uuid.uuid4())


class SecretsE2E(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.key = os.path.join(self.workdir, "app.key")
        self.cert = os.path.join(self.workdir, "app.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", self.key, "-out", self.cert, "-days", "30",
                        "-subj", "/CN=quarantined secrets test"],
                       check=True, capture_output=True, timeout=60)
        os.chmod(self.key, 0o600)
        with open(DEMO) as f:
            scenario = json.load(f)
        with open(self.cert) as f:
            pem = f.read()
        apps = scenario["tenants"][0]["apps"]
        reader = dict(apps[0])
        apps.append(dict(reader, clientId=CERT_APP, secret=None, certificates=[pem],
                         displayName="certificate app"))
        apps[0]["secret"] = SECRET
        path = os.path.join(self.workdir, "scenario.json")
        with open(path, "w") as f:
            json.dump(scenario, f)
        self.sim.load(path)

    def haystacks(self, d):
        """(name, bytes) of every output of the daemon d."""
        out = []
        for root, _, files in os.walk(d.state_dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    out.append((os.path.join(root, name), f.read()))
        for path in (d.alerts_path, d.log_path):
            with open(path, "rb") as f:
                out.append((path, f.read()))
        with open(self.cef_path, "rb") as f:
            out.append((self.cef_path, f.read()))
        base = d.health_url()
        for page in ("status.json", "metrics", "readyz", ""):
            with urllib.request.urlopen(base + page, timeout=30) as r:
                out.append(("/" + page, r.read()))
        for part in ("cmdline", "environ"):
            with open("/proc/%d/%s" % (d.proc.pid, part), "rb") as f:
                out.append(("/proc/PID/" + part, f.read()))
        return out

    def test_no_secret_key_or_token_in_any_output(self):
        d = self.daemon(secret=SECRET, page_size=5,
                        tenant_lines=["apply_mode = dry-run"],
                        extra_tenants=())
        # The certificate tenant: same directory, its own credential; and a CEF file.
        self.cef_path = os.path.join(self.workdir, "alerts.cef")
        with open(d.conf_path, "a") as f:
            f.write("\n[sink cef]\ntype = file\npath = %s\nformat = cef\n"
                    % self.cef_path)
            f.write("\n[tenant certs]\ntenant_id = %s\nclient_id = %s\n"
                    "certificate_file = %s\nprivate_key_file = %s\nlogin_url = %s\n"
                    "graph_url = %s\nca_file = %s\n"
                    % (TENANT_ID, CERT_APP, self.cert, self.key, self.sim.base,
                       self.sim.base, self.sim.ca_file))
        d.start()
        d.wait_for_cycles(2, name="e2e")
        d.wait_for_cycles(2, name="certs")
        # A token renewal mid-run: the new token is looked for as well.
        self.sim.expire_tokens()
        d.wait_for_more_cycles(2)
        tokens = self.sim.issued_tokens()
        self.assertGreaterEqual(len(tokens), 3)
        with open(self.key) as f:
            key_lines = [line.strip() for line in f
                         if line.strip() and not line.startswith("-----")]
        needles = [("client secret", SECRET)] + \
                  [("access token", t) for t in tokens] + \
                  [("access token signature", t.rsplit(".", 1)[1]) for t in tokens] + \
                  [("private key line %d" % i, line) for i, line in enumerate(key_lines)]
        hay = self.haystacks(d)
        self.assertTrue(any(name.endswith(".state.json") for name, _ in hay))
        for what, needle in needles:
            for name, data in hay:
                self.assertNotIn(needle.encode(), data, "%s found in %s" % (what, name))
        d.stop()
