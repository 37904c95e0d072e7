"""System test: the Debian package under a real, booted systemd.

A Debian 12 root made by mmdebstrap (cached as a tarball between runs) is booted
with systemd-nspawn; never the host's own root.  A test unit inside it
(tests/system/inside.sh) installs the .deb with apt, puts a credential in place
as the README says, starts the service against the simulator on the host's
127.0.0.1 (the container shares the host network), reloads, SIGSTOPs it for
the watchdog, stops it and purges the package, then powers the container off.
It reports through files in a directory bound into the root; this test parses
them: the journal with Python's json, the alerts file, the unit's security score.

Needs root, systemd-nspawn, mmdebstrap and a package built by `make deb`
(QD_DEB).  Skipped, saying why, only where those are missing or nspawn cannot
boot here."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, ROOT)

from tests.e2e.harness import (READER_ID, READER_SECRET, TENANT_ID,  # noqa: E402
                               Simulator)

# The root's packages: systemd, and the libraries the package depends on,
# so that apt installs the .deb without a network.
INCLUDE = ("systemd,systemd-sysv,dbus,libuv1,libcurl4,libcjson1,libinih1,libssl3,"
           "libxml2,libsystemd0,ca-certificates")
CACHE = os.environ.get("QD_SYSTEST_CACHE", "/var/cache/quarantined-systest")
BOOT_TIMEOUT = 600

MSGID_DETECTED = "c0a3882bb77148cbabf99b280e2e3c90"


def have(cmd):
    return shutil.which(cmd) is not None


def root_tarball():
    """The cached root, made again when the package list changes."""
    os.makedirs(CACHE, exist_ok=True)
    tar = os.path.join(CACHE, "bookworm-minbase.tar")
    stamp = tar + ".include"
    if os.path.exists(tar) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == INCLUDE:
                return tar
    tmp = os.path.join(CACHE, "bookworm-minbase.tmp.tar")
    subprocess.run(["mmdebstrap", "--variant=minbase", "--format=tar",
                    "--include=" + INCLUDE, "bookworm", tmp], check=True, stdout=subprocess.DEVNULL,
                   timeout=900)
    os.replace(tmp, tar)
    with open(stamp, "w") as f:
        f.write(INCLUDE)
    return tar


def config(sim, tenants):
    lines = ["[daemon]", "state_dir = /var/lib/quarantined", "log_level = info",
             "poll_interval = 2s", "page_size = 999", "",
             "[alerts]", "syslog = yes", "jsonl_file = /var/log/quarantined/alerts.jsonl",
             ""]
    for name in tenants:
        lines += ["[tenant %s]" % name, "tenant_id = %s" % TENANT_ID,
                  "client_id = %s" % READER_ID,
                  "client_secret_credential = credentials_e2e.secret",
                  "login_url = %s" % sim.base, "graph_url = %s" % sim.base,
                  "ca_file = /etc/quarantined/ca.pem", ""]
    return "\n".join(lines)


@unittest.skipUnless(os.geteuid() == 0, "the system test boots a container: needs root")
@unittest.skipUnless(have("systemd-nspawn") and have("mmdebstrap"),
                     "needs systemd-nspawn and mmdebstrap (scripts/install-deps)")
class BootedSystemd(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        deb = os.environ.get("QD_DEB")
        if not deb or not os.path.exists(deb):
            raise unittest.SkipTest("QD_DEB names no package; run make deb first")
        cls.work = tempfile.mkdtemp(prefix="qd-systest-", dir=os.environ.get("QD_SYSTEST_TMP"))
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        cls.sim = Simulator(cls.work)
        cls.addClassCleanup(cls.sim.stop)
        cls.sim.start()
        expected = len(cls.sim.expected_conflicts())

        root = os.path.join(cls.work, "root")
        os.makedirs(root)
        t0 = time.monotonic()
        subprocess.run(["tar", "-C", root, "-xf", root_tarball()], check=True)
        qd = os.path.join(cls.work, "qd")
        os.makedirs(qd)
        shutil.copy(deb, os.path.join(qd, "quarantined.deb"))
        shutil.copy(cls.sim.ca_file, os.path.join(qd, "ca.pem"))
        with open(os.path.join(qd, "e2e.secret"), "w") as f:
            f.write(READER_SECRET + "\n")
        with open(os.path.join(qd, "quarantined.conf"), "w") as f:
            f.write(config(cls.sim, ["e2e"]))
        with open(os.path.join(qd, "quarantined-2.conf"), "w") as f:
            f.write(config(cls.sim, ["e2e", "e2e-again"]))
        with open(os.path.join(qd, "expected-conflicts"), "w") as f:
            f.write(str(expected))
        shutil.copy(os.path.join(HERE, "inside.sh"), os.path.join(qd, "inside.sh"))
        unit = os.path.join(root, "etc/systemd/system/qd-systest.service")
        with open(unit, "w") as f:
            f.write("[Unit]\nDescription=quarantined system test\n"
                    "After=multi-user.target\n\n[Service]\nType=oneshot\n"
                    "ExecStart=/bin/sh /qd/inside.sh\n"
                    "ExecStopPost=/bin/systemctl poweroff --no-block\n"
                    "TimeoutStartSec=%d\n\n[Install]\nWantedBy=multi-user.target\n"
                    % (BOOT_TIMEOUT - 60))
        os.symlink("/etc/systemd/system/qd-systest.service",
                   os.path.join(root, "etc/systemd/system/multi-user.target.wants/"
                                "qd-systest.service"))
        cls.boot_log = os.path.join(cls.work, "boot.log")
        with open(cls.boot_log, "wb") as log:
            p = subprocess.run(["systemd-nspawn", "-D", root, "--boot", "--register=no",
                                "--keep-unit", "--bind=%s:/qd" % qd, "--console=pipe"],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               timeout=BOOT_TIMEOUT)
        cls.seconds = time.monotonic() - t0
        cls.out = os.path.join(qd, "out")
        cls.steps = {}
        try:
            with open(os.path.join(cls.out, "steps.txt")) as f:
                for line in f:
                    name, result = line.split()
                    cls.steps[name] = result
        except FileNotFoundError:
            with open(cls.boot_log, errors="replace") as f:
                tail = f.read()[-3000:]
            if p.returncode != 0 and "Welcome to" not in tail:
                raise unittest.SkipTest("systemd-nspawn cannot boot a container here "
                                        "(exit %d):\n%s" % (p.returncode, tail))
            raise AssertionError("the test unit inside the container reported nothing "
                                 "(nspawn exit %d):\n%s" % (p.returncode, tail))
        sys.stderr.write("system test: boot, checks and power-off took %.0f s\n"
                         % cls.seconds)
        cls.expected = expected

    def read(self, name):
        with open(os.path.join(self.out, name), errors="replace") as f:
            return f.read()

    def inside_log(self):
        try:
            return self.read("inside.log")[-4000:]
        except FileNotFoundError:
            return "(no inside.log)"

    def assertStep(self, name):
        self.assertEqual(self.steps.get(name), "ok",
                         "step %s: %s\n%s" % (name, self.steps, self.inside_log()))

    def journal(self):
        return [json.loads(line) for line in self.read("journal.json").splitlines()
                if line.strip()]

    def unit_entries(self):
        return [e for e in self.journal()
                if e.get("_SYSTEMD_UNIT") == "quarantined.service"]

    # ----- the checks ------------------------------------------------------------------
    def test_1_installed_with_apt_not_enabled(self):
        self.assertStep("install")
        self.assertEqual(self.read("enabled.txt").strip(), "disabled")

    def test_2_security_score(self):
        self.assertStep("security")
        text = self.read("security.txt")
        m = re.search(r"Overall exposure level for quarantined\.service: (\d+\.\d+)", text)
        self.assertIsNotNone(m, text)
        self.assertLessEqual(float(m.group(1)), 1.5, text)

    def test_3_check_as_root_finds_the_credential(self):
        self.assertEqual(self.read("check-root.txt"),
                         "configuration OK (files checked as the service's dynamic "
                         "user)\nexit 0\n")

    def test_4_active_after_ready_with_conflicts_in_status(self):
        self.assertStep("active")
        self.assertStep("status")
        self.assertIn("monitoring 1 tenant: %d conflicts" % self.expected,
                      self.read("status-1.txt"))
        # ExecStartPre's check ran under the service, with the credential.
        messages = [e.get("MESSAGE") for e in self.unit_entries()]
        self.assertIn("configuration OK", messages)

    def test_5_alerts_in_the_journal_with_message_id(self):
        detected = [e for e in self.journal()
                    if e.get("MESSAGE_ID") == MSGID_DETECTED and e.get("QD_TENANT") == "e2e"]
        self.assertEqual({e["QD_VALUE"].lower() for e in detected},
                         {v for (_, _, _, v) in self.sim.expected_conflicts()})
        self.assertTrue(all(e["_SYSTEMD_UNIT"] == "quarantined.service"
                            and e["QD_EVENT"] == "conflict.detected" for e in detected))

    def test_6_alerts_in_the_json_lines_file(self):
        self.assertStep("alerts-file")
        alerts = [json.loads(line) for line in self.read("alerts.jsonl").splitlines()
                  if line.strip()]
        detected = [a for a in alerts if a["event"] == "conflict.detected"]
        self.assertEqual(len(detected), self.expected, alerts)
        self.assertTrue(all(a["tenant"] == "e2e" for a in detected))

    def test_7_reload_applies_the_changed_configuration(self):
        self.assertStep("reload")
        self.assertIn("monitoring 2 tenants", self.read("status-2.txt"))

    def test_8_watchdog_restarts_a_stopped_daemon(self):
        self.assertStep("watchdog")
        self.assertStep("status-after-restart")
        messages = " ".join(str(e.get("MESSAGE")) for e in self.journal())
        self.assertRegex(messages, r"quarantined\.service: Watchdog timeout")

    def test_9_clean_stop(self):
        self.assertStep("stop")
        props = dict(line.split("=", 1) for line in self.read("stop.txt").splitlines()
                     if "=" in line)
        self.assertEqual(props["Result"], "success", props)
        self.assertEqual(props["ExecMainStatus"], "0", props)
        self.assertEqual(props["ActiveState"], "inactive", props)
        messages = [e.get("MESSAGE") for e in self.unit_entries()]
        self.assertIn("stopped cleanly", messages)

    def test_10_purge_leaves_nothing_behind(self):
        self.assertStep("purge")
        self.assertEqual(self.read("leftovers.txt"), "")
        self.assertIn("No files found", self.read("unit-after-purge.txt"))
        self.assertStep("done")


if __name__ == "__main__":
    unittest.main()
