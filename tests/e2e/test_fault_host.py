"""End to end: the fault matrix, faults of the daemon's own machine (see
test_fault_matrix.py for what every case asserts): the wall clock jumping forward and
back, the state directory's disk full, the alert spool turned read-only.  The disk and
spool faults run the daemon in a private mount namespace (unshare -m) on a small tmpfs
of its own, which the test fills or remounts read-only through nsenter; the clock jump
runs it under libfaketime (Debian's faketime) reading the offset from a file the test
rewrites."""

import errno
import json
import os
import subprocess
import tempfile
import unittest

from tests.e2e.harness import E2ETestCase, alert_key, detected
from tests.e2e.test_alert_formats import OctetReceiver
from tests.e2e.test_fault_matrix import FaultEpisode, readyz

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def mounts_allowed():
    """None when this machine lets a private mount namespace mount a tmpfs, else why
    not."""
    where = tempfile.mkdtemp(prefix="qd-mount-probe-")
    try:
        run = subprocess.run(["unshare", "-m", "--propagation", "private", "mount", "-t",
                              "tmpfs", "-o", "size=64k", "qd-probe", where],
                             capture_output=True, text=True, timeout=30)
        return None if run.returncode == 0 else run.stderr.strip() or "mount failed"
    except OSError as exc:
        return str(exc)
    finally:
        os.rmdir(where)


class HostFaultE2E(FaultEpisode, E2ETestCase):
    def new_conflict(self):
        """A user whose UPN another user already holds: one new quarantined value."""
        out = self.sim.tenant("/export", "POST", {
            "objectType": "user", "sourceAnchor": "SG9zdEZhdWx0VXNlcjAwMQ==",
            "userPrincipalName": "adam@contoso.com",
            "displayName": "Adam (second)"})["value"][0]
        self.assertTrue(out["quarantined"], out)

    def private_tmpfs(self, d, where, size):
        """Starts d in a private mount namespace with a tmpfs of size mounted on where."""
        why = mounts_allowed()
        if why:
            self.skipTest("this machine forbids mounts in a private namespace: " + why)
        os.makedirs(where, exist_ok=True)
        d.start(wrapper=["unshare", "-m", "--propagation", "private", "sh", "-c",
                         'mount -t tmpfs -o size=%s qd-fault "$0" && exec "$@"' % size,
                         where])
        return d

    def fill(self, path):
        """Writes path until its filesystem is full."""
        with open(path, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError as exc:
                self.assertEqual(exc.errno, errno.ENOSPC)

    # ----- disk full -----------------------------------------------------------------------
    def test_disk_full_on_the_state_directory(self):
        """The state directory's filesystem fills up while a new conflict appears: the
        state file and the spool cannot be written, the alert waits in memory and goes
        out once, when space is freed."""
        d = self.daemon()
        self.private_tmpfs(d, d.state_dir, "2m")
        d.wait_for_cycles(1)
        # The test sees the daemon's tmpfs through the daemon's root.
        filler = "/proc/%d/root%s/filler" % (d.proc.pid, d.state_dir)

        def start():
            self.fill(filler)
            self.new_conflict()

        # One line per file the full disk refuses: state, suggestions, spool.
        episode = self.episode(d, start, lambda: os.unlink(filler),
                               loud_per=(".state.json", ".suggestions.csv", ".spool"))
        self.assertTrue(any("written again" in line for line in episode), episode[-20:])
        d.stop()

    # ----- unwritable spool ----------------------------------------------------------------
    def test_unwritable_spool(self):
        """The alert spool's own filesystem refuses writes while a new conflict appears
        (the state directory around it stays writable).  A conflict alert is spooled
        before its state is saved (ARCHITECTURE.md, "Closing the window"), so the JSON
        lines file's and the TCP sink's alerts both wait in memory, one line each
        says so, and they go out once, when the spool takes writes again.  Root ignores file modes, and a
        filesystem with a file open for writing cannot be remounted read-only, so the
        refusal is a full filesystem: the daemon meets ENOSPC, EROFS and EIO on the
        same path (spool.c, batch_failed())."""
        siem = OctetReceiver()
        self.addCleanup(siem.close)
        d = self.daemon()
        with open(d.conf_path, "a") as f:
            f.write("\n[sink siem]\ntype = tcp\nhost = 127.0.0.1\nport = %d\n"
                    "format = json\n" % siem.port)
        spool = os.path.join(d.state_dir, "spool")
        self.private_tmpfs(d, spool, "1m")
        d.wait_for_cycles(1)
        filler = "/proc/%d/root%s/filler" % (d.proc.pid, spool)

        def siem_detected():
            with siem.lock:
                # RFC 5424 header, then the JSON document (as test_alert_formats).
                got = [json.loads(f.decode().split(" - ", 1)[1]) for f in siem.frames]
            return sorted(alert_key(a) for a in detected(got))

        d.wait("the first cycle's alerts at the TCP sink",
               lambda: siem_detected() == sorted(self.sim.expected_conflicts()))

        def start():
            self.fill(filler)
            self.new_conflict()

        episode = self.episode(d, start, lambda: os.unlink(filler),
                               loud_per=("jsonl.spool", "siem.spool"))
        self.assertTrue(any("writable again" in line for line in episode), episode[-20:])
        d.wait("every alert at the TCP sink",
               lambda: siem_detected() == sorted(self.sim.expected_conflicts()),
               detail=lambda: "; got %s" % siem_detected())
        d.stop()
        self.assertEqual(siem_detected(), sorted(self.sim.expected_conflicts()),
                         "the TCP sink lost or repeated an alert")

    # ----- clock jump ----------------------------------------------------------------------
    @unittest.skipUnless(os.path.exists(LIBFAKETIME),
                         "libfaketime is missing: run scripts/install-deps (faketime)")
    def test_clock_jump_forward_and_back(self):
        """The wall clock jumps an hour forward, then back: readiness follows, polling
        goes on at its pace (timers run on the monotonic clock), the token is renewed,
        nothing is alerted again or cleared."""
        offset = os.path.join(self.workdir, "faketime")
        with open(offset, "w") as f:
            f.write("+0\n")
        # An ASan build (make e2e-asan) wants its runtime first; libfaketime, preloaded,
        # comes before it, which is harmless here (it wraps only clock calls).
        asan = os.environ.get("ASAN_OPTIONS", "")
        d = self.daemon().start(env={
            "LD_PRELOAD": LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE": offset,
            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"})
        d.wait_for_cycles(1)

        def jump(seconds):
            tmp = offset + ".tmp"
            with open(tmp, "w") as f:
                f.write("%+d\n" % seconds)
            os.replace(tmp, offset)

        def start():
            jump(3600)

        def stop():
            # Polling went on an hour ahead; now the clock steps back.
            d.wait_for_more_cycles(2)
            jump(0)
            d.wait_for_more_cycles(2)

        # An hour ahead, the last good cycle looks an hour old until the next one ends;
        # the test waits for the flip only if it shows, as it may be shorter than a poll.
        self.episode(d, start, stop, expect_not_ready=False)
        self.assertEqual(readyz(d)[0], 200)
        d.stop()


if __name__ == "__main__":
    unittest.main()
