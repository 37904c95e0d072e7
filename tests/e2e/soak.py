"""End to end: a time-accelerated soak.  The daemon polls a tenant that keeps changing
(a conflict appears, then is resolved, again and again) for QD_SOAK_CYCLES cycles
(default 300; `make soak` runs 10,000), while its resident memory and open descriptors
are sampled from /proc.  After a warm-up (the first fifth of the cycles) neither may
grow: memory by at most SOAK_RSS_SLACK (not checked for an ASan build, whose
allocator keeps freed memory; its leak check at exit does the job), the descriptors the
daemon keeps not at all, and its TCP connections (which come and go) never past the
connection pool's bound, nor the files of its atomic writes past a few.

Time runs a hundred times faster for the daemon only: it runs under libfaketime
(Debian's faketime, FAKETIME="+0 x100"), which speeds up its wall and monotonic clocks
and the waits of its event loop, so poll_interval = 1s polls every 10 ms and the
daemon needs no test switch to poll back to back.  The simulator and the test keep
real time.  Figures go to stderr, and to QD_SOAK_REPORT (a file) when set."""

import json
import os
import time
import unittest
import urllib.request

from tests.e2e.harness import E2ETestCase, alert_key, cleared, detected, qd_bin

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SPEED = 100
CYCLES = int(os.environ.get("QD_SOAK_CYCLES", "300"))
SOAK_RSS_SLACK = 1 << 20  # bytes of resident memory the end may have over the warm-up
# The user that comes and goes: its UPN is one a demo user holds.
ANCHOR = "U29ha1VzZXIwMDAwMDAwMQ=="


def asan_build():
    """Whether the daemon is built with ASan (make e2e-asan): its allocator holds freed
    memory in quarantine, so resident memory grows by design; its leak check at exit
    stands in for the memory bound there."""
    with open(qd_bin(), "rb") as f:
        return b"__asan_init" in f.read()


# The most TCP connections the daemon may hold at once here: the connection pool
# keeps at most 16 idle (POOL_MAX_IDLE in daemon/http_pool.c), the tenant has at most
# max_concurrency (4) in use, and the health endpoint has the test's one request.  A
# connection that leaks once a cycle passes it within the warm-up.
CONN_BOUND = 16 + 4 + 1
# The most descriptors of atomic writes open at once: a temporary file and its
# directory (fsync'd after the rename) for each write in flight (the state, the
# suggestions file, the alerts file).  One left open each cycle passes it at once.
WRITE_BOUND = 8


def tcp_connections(pid):
    """Inodes of the TCP sockets in pid's network namespace that do not listen,
    from /proc/PID/net/tcp and tcp6 (state 0A is LISTEN)."""
    conns = set()
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] != "0A":
                        conns.add(cols[9])
        except FileNotFoundError:
            pass
    return conns


def proc_sample(pid):
    """(resident bytes, descriptors kept, TCP connections, descriptors of atomic
    writes) of pid, from /proc.

    Kept are the descriptors that stay open: files, pipes, event fds and the
    listening and local sockets.  Two kinds come and go within a cycle and are
    counted apart, or a sample that catches one would look like a leak: the TCP
    connections (to Graph, and the health endpoint's accepted ones) and the
    descriptors of an atomic write (daemon/atomic.c, afile.c): the temporary file
    NAME.tmp.XXXXXX and its directory, opened to fsync the rename."""
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    tcp = tcp_connections(pid)
    kept = conns = writes = 0
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except FileNotFoundError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            inode = target[len("socket:["):-1]
            if inode in tcp:
                conns += 1
                continue
        elif ".tmp." in os.path.basename(target) or os.path.isdir(target):
            writes += 1
            continue
        kept += 1
    return rss, kept, conns, writes


@unittest.skipUnless(os.path.exists(LIBFAKETIME),
                     "libfaketime is missing: run scripts/install-deps (faketime)")
class SoakE2E(E2ETestCase):
    def status(self, url):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url + "status.json", timeout=30) as resp:
            return json.loads(resp.read())

    def flip(self, conflicting):
        """The soak user takes a demo user's UPN (a new conflict) or a UPN of its own
        (the conflict is resolved)."""
        upn = "adam@contoso.com" if conflicting else "soak.user@contoso.com"
        out = self.sim.tenant("/export", "POST", {
            "objectType": "user", "sourceAnchor": ANCHOR, "userPrincipalName": upn,
            "displayName": "Soak User"})["value"][0]
        self.assertEqual(bool(out["quarantined"]), conflicting, out)
        return out["id"]

    def test_soak_no_growth(self):
        d = self.daemon(page_size=999, daemon_options=["http_timeout = 600s"])
        asan = os.environ.get("ASAN_OPTIONS", "")
        d.start(env={"LD_PRELOAD": LIBFAKETIME, "FAKETIME": "+0 x%d" % SPEED,
                     "ASAN_OPTIONS": (asan + ":" if asan else "") +
                     "verify_asan_link_order=0"})
        url = d.health_url()
        pid = d.proc.pid
        warmup = max(CYCLES // 5, 20)
        samples = []  # (cycle, rss, descriptors kept, TCP connections, writes)
        flips = 0
        started = time.monotonic()
        last_flip = 0.0
        soak_id = None
        cycles = 0
        while cycles < CYCLES:
            self.assertTrue(d.running(), d.log_tail())
            st = self.status(url)["tenants"][0]
            cycles = int(st["cyclesOk"]) + int(st["cyclesFailed"])
            samples.append((cycles,) + proc_sample(pid))
            # The tenant changes about every second of real time: some tens of cycles.
            if time.monotonic() - last_flip >= 1.0:
                flips += 1
                soak_id = self.flip(flips % 2 == 1)
                last_flip = time.monotonic()
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        st = self.status(url)["tenants"][0]
        self.assertEqual(int(st["cyclesFailed"]), 0, d.log_tail())
        # The tenant as it ends: every conflict alerted once per appearance.
        d.stop()

        after = [s for s in samples if s[0] >= warmup]
        self.assertGreater(len(after), 2, "too few samples after the warm-up")
        first, last = after[0], after[-1]
        rss_max = max(s[1] for s in samples)
        fds_max = max(s[2] for s in samples)
        conns_max = max(s[3] for s in after)
        writes_max = max(s[4] for s in after)
        # With the connections and temporary files apart, the descriptors kept do
        # not change; the fewest over the first and the last tenth still allow for
        # one that opens or closes as a sample is taken (a log file reopened).
        # The connections and the atomic writes' descriptors have bounds.
        tenth = max(3, len(after) // 10)
        floor_early = min(s[2] for s in after[:tenth])
        floor_late = min(s[2] for s in after[-tenth:])
        report = ("soak: %d cycles (%d failed) in %.0f s real, %d tenant changes; "
                  "RSS start %d KiB, after warm-up %d KiB, end %d KiB, max %d KiB; "
                  "fds kept start %d, after warm-up %d, end %d, max %d, fewest early %d, "
                  "fewest late %d; after warm-up at most %d TCP connections and %d "
                  "descriptors of atomic writes; %d samples"
                  % (cycles, int(st["cyclesFailed"]), elapsed, flips,
                     samples[0][1] // 1024, first[1] // 1024, last[1] // 1024,
                     rss_max // 1024, samples[0][2], first[2], last[2], fds_max,
                     floor_early, floor_late, conns_max, writes_max, len(samples)))
        print("\n" + report, flush=True)
        if os.environ.get("QD_SOAK_REPORT"):
            with open(os.environ["QD_SOAK_REPORT"], "w") as f:
                f.write(report + "\n")
        if not asan_build():
            self.assertLessEqual(last[1] - first[1], SOAK_RSS_SLACK, report)
        self.assertLessEqual(floor_late, floor_early, report)
        self.assertLessEqual(conns_max, CONN_BOUND, report)
        self.assertLessEqual(writes_max, WRITE_BOUND, report)
        # Every detection of the soak user was followed by its clearing, and demo's
        # conflicts were alerted once.
        alerts = d.alerts()
        soak = [a for a in detected(alerts) if a["objectId"] == soak_id]
        gone = [a for a in cleared(alerts) if a["objectId"] == soak_id]
        self.assertGreater(len(soak), 1, "the tenant never changed under the daemon")
        self.assertIn(len(soak) - len(gone), (0, 1), report)
        steady = [alert_key(a) for a in detected(alerts) if a["objectId"] != soak_id]
        self.assertEqual(len(steady), len(set(steady)), "a steady conflict was re-alerted")


if __name__ == "__main__":
    unittest.main()
