"""The daemon as a service sees it: file descriptor limits.

A daemon started with a tiny RLIMIT_NOFILE runs out of descriptors in its first
cycle.  It must say so (not "error setting certificate file" or "Failed to
connect"), alert once, retry the cycle with backoff instead of in a tight loop,
and work again once descriptors are there."""

import datetime
import os
import pwd
import re
import resource
import shutil
import subprocess
import tempfile
import unittest

from tests.e2e.harness import E2ETestCase, parse_time, qd_bin

STAMP = r"^(\S+Z) "
FAILED = STAMP + r".*tenant e2e: cycle failed on \w+: out of file descriptors: EMFILE"


def stamps(lines):
    return [parse_time(re.match(STAMP, line).group(1)) for line in lines]


class FileDescriptors(E2ETestCase):

    def test_running_out_is_reported_alerted_once_and_backed_off(self):
        # 12 descriptors: the loop, the signal pipe, curl's wakeup pair and the
        # state file fit; a cycle's sockets and the CA bundle do not.
        d = self.daemon(poll_interval="3s").start(nofile=12)
        lines = d.wait_for_log(FAILED, count=3, timeout=30)
        # Each failed cycle is the interval (the cap of the backoff) after the
        # one before, less 5% jitter: no tight loop.
        times = stamps(lines)
        for a, b in zip(times, times[1:]):
            self.assertGreaterEqual(b - a, datetime.timedelta(seconds=2.8), lines)
        # A cycle makes at most its three collection requests and the token
        # request before it gives up: nothing is retried within the cycle.
        attempts = d.log_lines(r"debug: http: \S+ \S+: EMFILE, out of file descriptors")
        self.assertLessEqual(len(attempts), 4 * len(d.log_lines(FAILED)), attempts)
        self.assertNotIn("error setting certificate file: ", "\n".join(
            line for line in d.log().splitlines() if "cycle failed" in line
            and "curl:" not in line))
        # Logged and alerted once for the episode, with the limit to raise.
        self.assertEqual(len(d.log_lines(r"error: tenant e2e: out of file descriptors "
                                         r"\(EMFILE\) with a soft limit of 12: .*"
                                         r"LimitNOFILE=")), 1)
        alerts = [a for a in d.alerts() if a["event"] == "daemon.fd-exhausted"]
        self.assertEqual(len(alerts), 1, d.alerts())
        self.assertEqual(alerts[0]["tenant"], "e2e")
        self.assertEqual(alerts[0]["severity"], "error")
        self.assertIn("soft limit of 12", alerts[0]["message"])

        d.stop()

    def test_cycles_work_again_when_descriptors_come_back(self):
        d = self.daemon(poll_interval="3s").start(nofile=12)
        d.wait_for_log(FAILED, timeout=30)
        try:
            resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (1024, 1024))
        except PermissionError:
            d.stop()
            self.skipTest("raising a running daemon's hard limit needs CAP_SYS_RESOURCE")
        d.wait_for_cycles(1, timeout=30)
        d.wait_for_log(r"notice: file descriptors: cycles work again")
        d.stop()
        self.assertEqual(len([a for a in d.alerts()
                              if a["event"] == "daemon.fd-exhausted"]), 1)

    def test_soft_limit_is_raised_to_the_hard_limit(self):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard == resource.RLIM_INFINITY or hard <= 64:
            self.skipTest("needs a finite hard limit above 64")
        d = self.daemon().start(nofile=(64, hard))
        d.wait_for_log(r"info: file descriptors: soft limit raised from 64 to %d$" % hard)
        with open("/proc/%d/limits" % d.proc.pid) as f:
            limits = re.search(r"^Max open files\s+(\d+)\s+(\d+)", f.read(), re.M)
        self.assertEqual((int(limits.group(1)), int(limits.group(2))), (hard, hard))
        d.wait_for_cycles(1)
        d.stop()


@unittest.skipUnless(os.geteuid() == 0, "checking as another user needs root")
class CheckAsServiceUser(unittest.TestCase):
    """quarantined -n run by root checks the files as the service will open them:
    by default as the dynamic user of the shipped unit, or as -u USER."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="qd-preflight-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.chmod(self.dir, 0o755)  # the service user may enter it
        self.secret = os.path.join(self.dir, "contoso.secret")
        with open(self.secret, "w") as f:
            f.write("not-a-real-secret\n")
        os.chmod(self.secret, 0o600)
        self.conf = os.path.join(self.dir, "q.conf")
        self.write_conf(os.path.join(self.dir, "state"))

    def write_conf(self, state_dir):
        with open(self.conf, "w") as f:
            f.write("[daemon]\nstate_dir = %s\n\n[tenant contoso]\n"
                    "tenant_id = 72f988bf-86f1-41af-91ab-2d7cd011db47\n"
                    "client_id = 1b7f0a4e-8a0c-4d6f-9a43-6a1b2f9d3c11\n"
                    "client_secret_file = contoso.secret\n" % state_dir)

    def check(self, *args):
        env = dict(os.environ)
        env.pop("CREDENTIALS_DIRECTORY", None)
        p = subprocess.run([qd_bin(), "-n", "-f", self.conf] + list(args),
                           capture_output=True, text=True, timeout=30, env=env)
        return p.returncode, p.stdout + p.stderr

    def test_root_owned_secret_is_unreadable_for_the_dynamic_user(self):
        # The unit's StateDirectory= is made by systemd for the dynamic user.
        self.write_conf("/var/lib/quarantined")
        rc, out = self.check()
        self.assertEqual(rc, 1, out)
        self.assertEqual(out.strip(),
                         "%s:7: client_secret_file %s: the service's dynamic user cannot "
                         "read it; with DynamicUser=yes, put it in "
                         "/etc/quarantined/credentials (root, mode 0600) and name it as a "
                         "credential (see quarantined(8))" % (self.conf, self.secret))
        # Elsewhere the dynamic user could not make it; nothing is created.
        self.write_conf(os.path.join(self.dir, "state"))
        rc, out = self.check()
        self.assertIn("q.conf:2: state_dir %s/state: the service's dynamic user cannot "
                      "create it in %s: Permission denied" % (self.dir, self.dir), out)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "state")))

    def test_as_root_and_as_the_owner_it_is_fine(self):
        self.assertEqual(self.check("-u", "root"), (0, "configuration OK\n"))
        nobody = pwd.getpwnam("nobody")
        os.chown(self.secret, nobody.pw_uid, nobody.pw_gid)
        rc, out = self.check("-u", "nobody")
        self.assertEqual(rc, 1, out)  # nobody cannot write the state dir's parent
        self.assertIn("state_dir %s/state: user nobody cannot create it in %s: Permission denied" % (self.dir, self.dir), out)
        self.assertNotIn("client_secret_file", out)

    def test_group_readable_secret_for_a_user_in_the_group(self):
        nobody = pwd.getpwnam("nobody")
        os.chown(self.secret, 0, nobody.pw_gid)
        os.chmod(self.secret, 0o640)
        os.makedirs(os.path.join(self.dir, "state"))
        os.chown(os.path.join(self.dir, "state"), nobody.pw_uid, nobody.pw_gid)
        self.assertEqual(self.check("-u", "nobody"),
                         (0, "configuration OK (files checked as user nobody)\n"))

    def test_unknown_user(self):
        rc, out = self.check("-u", "no-such-user-qd")
        self.assertEqual((rc, out), (2, "quarantined: -u: no user 'no-such-user-qd'\n"))


if __name__ == "__main__":
    unittest.main()
