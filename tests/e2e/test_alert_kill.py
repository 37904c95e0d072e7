# SPDX-License-Identifier: MIT
"""End to end: SIGKILL around the end of cycles that raise alerts.

Every round the admin's sync exports a new group whose address is already held
(a new quarantined conflict) and deletes an older one (a conflict gone), so
every cycle raises alerts.  The daemon is killed at a random moment soon after
a change, which is where cycles end: between the spooling of the cycle's alerts,
the save of the state file that commits them and their delivery.  After every
kill the state file on disk is read: each conflict any committed state ever
held, and each one a later committed state no longer held, is a transition.
At the end, with no more kills, both sinks (the JSON lines file, and a TCP sink
read by a receiver of this test with RFC 6587 octet counting) must hold every
transition's alert, in the same order, and nothing else: not an alert of a
state that was never saved.  The file holds each exactly once.  A TCP receiver
may get a record again: RFC 6587 has no acknowledgement, so a kill between the
kernel taking a record and the spool marking it sent makes the restarted
daemon send it again, with the same event id for the receiver to drop it by.
That is the one repeat allowed: records at the head of the spool when a kill
came.

QD_ALERT_KILLS sets the number of kills (default 25), QD_KILL_SEED the random
seed (printed on failure)."""

import base64
import json
import os
import random
import time

from tests.e2e.harness import E2ETestCase, alert_key, wait_until
from tests.e2e.test_alert_formats import OctetReceiver

KILLS = int(os.environ.get("QD_ALERT_KILLS", "25"))
GONE = ("conflict.cleared", "conflict.released")


def state_keys(d):
    """The conflicts of the state file on disk, as alert keys (an empty set before
    the first save)."""
    path = os.path.join(d.state_dir, "%s.state.json" % d.name)
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return set()
    return {(c["objectType"], c["objectId"], c["property"], c["value"].lower())
            for c in doc["conflicts"]}


class AlertKill(E2ETestCase):

    def export_group(self, n):
        anchor = base64.b64encode(b"kill-group-%06d" % n).decode()
        out = self.sim.tenant("/export", "POST", {
            "objectType": "group", "sourceAnchor": anchor,
            "displayName": "Kill list %d" % n, "mailEnabled": True,
            "securityEnabled": False,
            "proxyAddresses": ["SMTP:gus@contoso.com"]})["value"][0]
        self.assertTrue(out["quarantined"], out)
        return anchor, out["id"]

    def delete_group(self, anchor):
        self.sim.tenant("/export/%s?mode=hard" % anchor.replace("/", "%2F")
                        .replace("+", "%2B").replace("=", "%3D"), "DELETE")

    def wait_for_new_state(self, d):
        """Returns as soon as the state file is replaced (a new inode): polled
        every half millisecond, as the moment after the rename is the point."""
        path = os.path.join(d.state_dir, "%s.state.json" % d.name)

        def inode():
            try:
                return os.stat(path).st_ino
            except FileNotFoundError:
                return None
        before = inode()
        wait_until("the state file replaced", lambda: inode() != before or not d.running(),
                   interval=0.0005)

    def run_loop(self, seed):
        rnd = random.Random(seed)
        rx = OctetReceiver()
        self.addCleanup(rx.close)
        d = self.daemon()
        with open(d.conf_path, "a") as f:
            f.write("\n[sink siem]\ntype = tcp\nhost = 127.0.0.1\nport = %d\n"
                    "format = json\n" % rx.port)
        seen, gone = set(), set()  # every committed state's conflicts; those left
        live = []  # exported groups not deleted yet
        n = 0
        d.start()
        d.wait_for_cycles(1)
        seen |= state_keys(d)
        for kill in range(1, KILLS + 1):
            if kill > 1:
                d.start()
                # Some kills during start-up and the first cycle, most later.
                if rnd.random() < 0.7:
                    d.wait_for_cycles(1)
            n += 1
            live.append(self.export_group(n))
            # Only a conflict a saved state is known to have held is deleted, so that
            # every committed state between two kills is one the test reads.
            known = [g for g in live if g[1] in {k[1] for k in seen}]
            if known and rnd.random() < 0.7:
                g = rnd.choice(known)
                live.remove(g)
                self.delete_group(g[0])
            if rnd.random() < 0.6:
                # Right after a state file is renamed into place: where the
                # cycle's alerts have yet to reach the receivers.
                self.wait_for_new_state(d)
                time.sleep(rnd.uniform(0, 0.004))
            else:
                # Anywhere in the next cycle or two (poll_interval = 1s).
                time.sleep(rnd.uniform(0, 1.6))
            d.kill()
            now = state_keys(d)
            gone |= seen - now
            seen |= now
        d.start()
        d.wait_for_cycles(1)
        # The last change is seen by a cycle, and the state saved after it.
        expected_final = self.sim.expected_conflicts()
        d.wait("the final state", lambda: state_keys(d) == expected_final)
        final = state_keys(d)
        gone |= seen - final
        seen |= final

        def conflict_alerts(alerts):
            return [a for a in alerts if a["event"].startswith("conflict.")]

        def probe():
            mine = conflict_alerts(d.alerts())
            detected = {alert_key(a) for a in mine if a["event"] == "conflict.detected"}
            ended = {alert_key(a) for a in mine if a["event"] in GONE}
            theirs = conflict_alerts(rx_alerts())
            if seen <= detected and gone <= ended and len(theirs) >= len(mine):
                return mine, theirs
            return None

        def rx_alerts():
            with rx.lock:
                frames = list(rx.frames)
            # A syslog header, " - ", then the alert object.
            return [json.loads(f.decode().split(" - ", 1)[1]) for f in frames]
        mine, theirs = d.wait("every transition alerted", probe,
                              detail=lambda: "; seen %d gone %d" % (len(seen), len(gone)))
        d.stop()
        mine = conflict_alerts(d.alerts())
        theirs = conflict_alerts(rx_alerts())
        return seen, gone, mine, theirs, n

    def check(self, seen, gone, mine, theirs):
        # The TCP receiver's records with a repeated event id dropped, as a
        # receiver would (see the module's comment).
        first, resent = [], 0
        for a in theirs:
            if any(b["id"] == a["id"] for b in first):
                resent += 1
            else:
                first.append(a)
        self.assertLessEqual(resent, KILLS * 64, "tcp: more re-sent than the kills explain")
        theirs = first
        for name, alerts in (("alerts.jsonl", mine), ("tcp", theirs)):
            ids = [a["id"] for a in alerts]
            self.assertEqual(len(ids), len(set(ids)), "%s: an alert twice" % name)
            by_key = {}
            for a in alerts:
                by_key.setdefault(alert_key(a), []).append(a["event"])
            for key, evs in by_key.items():
                # Each key is created once and deleted at most once.
                self.assertIn(key, seen, "%s: %s alerted, no saved state knew it: %s"
                              % (name, key, evs))
                want = ["conflict.detected"] + (["gone"] if key in gone else [])
                got = ["gone" if e in GONE else e for e in evs]
                self.assertEqual(got, want, "%s: %s" % (name, key))
            self.assertEqual(set(by_key), seen, "%s: transitions not alerted" % name)
        # Both sinks got the one sequence, in order.
        self.assertEqual([a["id"] for a in theirs], [a["id"] for a in mine])

    def test_sigkill_around_cycle_ends_alerts_each_transition_once(self):
        seed = os.environ.get("QD_KILL_SEED") or str(time.time_ns())
        try:
            seen, gone, mine, theirs, rounds = self.run_loop(seed)
            self.check(seen, gone, mine, theirs)
        except AssertionError as e:
            raise AssertionError("QD_KILL_SEED=%s: %s" % (seed, e)) from None
        print("\nalert kill loop: %d kills, %d conflicts, %d gone, %d alerts per sink, "
              "seed %s" % (KILLS, len(seen), len(gone), len(mine), seed))
