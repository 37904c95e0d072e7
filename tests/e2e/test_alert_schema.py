# SPDX-License-Identifier: MIT
"""The documented alert schema and the journal catalog hold for real output.

- Alerts of a real run (conflicts, and the daemon's own events from a tenant
  whose secret expired) validate against docs/alert.schema.json with the
  jsonschema package (Debian's python3-jsonschema).
- systemd/quarantined.catalog compiles with `journalctl --update-catalog` in a
  scratch root, and the compiled catalog has an entry for every MESSAGE_ID the
  daemon's journal records carry (read from quarantined(8)'s table).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tests.e2e.harness import ROOT, TENANT_ID, E2ETestCase, wait_until

try:
    import jsonschema
except ImportError:  # a python3 not Debian's: use Debian's package
    sys.path.append("/usr/lib/python3/dist-packages")
    import jsonschema

EXPIRED_ID = "2b3c4d5e-6f70-4a8b-9cad-1e2f3a4b5c6d"


class AlertSchema(E2ETestCase):

    def test_real_alerts_validate(self):
        with open(os.path.join(ROOT, "docs", "alert.schema.json")) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        d = self.daemon(extra_tenants=[("old", TENANT_ID, EXPIRED_ID, "expired-secret")])
        d.start()
        events = wait_until("conflict and credential alerts", lambda: (
            {a["event"] for a in d.alerts()}
            if {"conflict.detected", "credential.expired", "tenant.failing"}
            <= {a["event"] for a in d.alerts()} else None), timeout=60)
        self.assertIn("conflict.detected", events)
        for alert in d.alerts():
            errors = [e.message for e in validator.iter_errors(alert)]
            self.assertEqual(errors, [], alert["event"])
        d.stop()


class JournalCatalog(E2ETestCase):

    def test_catalog_compiles_with_every_message_id(self):
        if not shutil.which("journalctl"):
            self.skipTest("journalctl is not installed")
        root = tempfile.mkdtemp(dir=self.workdir)
        cat = os.path.join(root, "usr", "lib", "systemd", "catalog")
        os.makedirs(cat)
        os.makedirs(os.path.join(root, "var", "lib", "systemd", "catalog"))
        shutil.copy(os.path.join(ROOT, "systemd", "quarantined.catalog"), cat)
        out = subprocess.run(["journalctl", "--root", root, "--update-catalog"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn("quarantined.catalog", out.stderr)  # no line was ignored
        listed = subprocess.run(["journalctl", "--root", root, "--list-catalog"],
                                capture_output=True, text=True, check=True).stdout
        compiled = set(re.findall(r"^([0-9a-f]{32}) quarantined: ", listed, re.M))
        with open(os.path.join(ROOT, "man", "quarantined.8")) as f:
            documented = set(re.findall(r"^[a-z]+\.[a-z-]+ +([0-9a-f]{32}) ", f.read(), re.M))
        self.assertGreaterEqual(len(documented), 19)
        self.assertEqual(documented - compiled, set())
