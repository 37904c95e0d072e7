"""The daemon as a service sees it: file descriptor limits.

A daemon started with a tiny RLIMIT_NOFILE runs out of descriptors in its first
cycle.  It must say so (not "error setting certificate file" or "Failed to
connect"), alert once, retry the cycle with backoff instead of in a tight loop,
and work again once descriptors are there."""

import datetime
import re
import resource
import unittest

from tests.e2e.harness import E2ETestCase, parse_time, wait_until

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


if __name__ == "__main__":
    unittest.main()
