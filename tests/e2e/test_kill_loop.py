"""End to end: SIGKILL at random moments while the apply engine writes.

Cloud-only users each get a known anchor (two more whenever all are written, so
there is always a write to interrupt); the simulator answers every PATCH after
3 s, so many kills land while a PATCH is in flight (the simulator still applies it,
as Graph does with a request it has begun).  Some kills follow the daemon's "PATCH"
log line by a random fraction of that time, others come at a random moment after the
start; now and then the admin changes the anchor of a user not yet written.  After
every kill the journal and the state file must be whole JSON; at the end, with no more
kills, every user holds a value, Graph processed exactly one PATCH per user, and that
value is one the admin intended.

QD_KILLS sets the number of kills (make check: 30; make kill-loop: 200), QD_KILL_SEED
the random seed (printed on failure), QD_KILL_STALE_READS the number of stale reads the
simulator serves after each write (eventual consistency)."""

import json
import os
import random
import time

from tests.e2e import test_apply
from tests.e2e.harness import wait_until
from tests.e2e.test_apply import new_anchor

KILLS = int(os.environ.get("QD_KILLS", "30"))
USERS = int(os.environ.get("QD_KILL_USERS", "8"))
PATCH_SECONDS = 3.0


class KillLoopE2E(test_apply.ApplyTestCase):
    def check_files_whole(self, d, kill):
        """Every journal line and the state file parse as JSON after a SIGKILL."""
        path = os.path.join(d.state_dir, "e2e.journal.jsonl")
        if os.path.exists(path):
            with open(path) as f:
                for n, line in enumerate(f, 1):
                    try:
                        json.loads(line)
                    except ValueError as e:
                        self.fail("kill %d: %s:%d is not JSON (%s): %r"
                                  % (kill, path, n, e, line))
        path = os.path.join(d.state_dir, "e2e.state.json")
        if os.path.exists(path):
            with open(path) as f:
                try:
                    json.load(f)
                except ValueError as e:
                    self.fail("kill %d: %s is not JSON: %s" % (kill, path, e))

    def write_rows(self, intended):
        self.write_anchors([(upn, values[-1], "K-%d" % len(values))
                            for upn, (uid, values) in sorted(intended.items())])

    def value_of(self, uid):
        return self.sim.tenant("/objects/" + uid).get("onPremisesImmutableId")

    def open_intents(self, d):
        records = self.journal(d)
        done = {r["clientRequestId"] for r in records if r["kind"] != "intent"
                and r["kind"] != "indoubt"}
        return len([r for r in records if r["kind"] == "intent"
                    and r["clientRequestId"] not in done])

    def run_loop(self, seed):
        rnd = random.Random(seed)
        self.remove_duplicate()
        intended = {}  # upn -> (object id, [anchors in the order the admin set them])
        for i in range(USERS):
            name = "kill%02d" % i
            intended["%s@contoso.com" % name] = (self.add_cloud_user(name), [new_anchor()])
        stale = int(os.environ.get("QD_KILL_STALE_READS", "0"))
        if stale:
            self.sim.settings(eventualConsistencyReads=stale)
        self.sim.add_faults({"kind": "delay", "method": "PATCH", "seconds": PATCH_SECONDS,
                             "count": 1000000})
        d = self.apply_daemon([], extra=["apply_max_per_cycle = 1000",
                                         "apply_threshold = 1000000",
                                         # longer than Graph takes for a PATCH
                                         "apply_settle = %ds" % (PATCH_SECONDS + 1),
                                         "apply_settle_reads = 2"])
        self.write_rows(intended)
        in_flight = 0
        for kill in range(1, KILLS + 1):
            d.start()
            if rnd.random() < 0.5:
                # While a PATCH is (probably) in flight: after the daemon says it sends
                # one, when there is one left to send.
                unwritten = [uid for uid, _ in intended.values() if not self.value_of(uid)]
                if unwritten:
                    try:
                        d.wait_for_log(r"apply: tenant e2e: PATCH ", timeout=20)
                        in_flight += 1
                    except AssertionError:
                        pass  # every user may be blocked until settled: kill anyway
                    time.sleep(rnd.uniform(0, PATCH_SECONDS * 1.1))
            else:
                # Anywhere: start-up, inventory, settle reads, guards, verify.
                time.sleep(rnd.uniform(0.05, PATCH_SECONDS + 6))
            d.kill()
            self.check_files_whole(d, kill)
            if all(self.value_of(uid) for uid, _ in intended.values()):
                # Keep work in flight: the admin adds anchors for two more users.
                for _ in range(2):
                    name = "kill%02d" % len(intended)
                    intended["%s@contoso.com" % name] = (self.add_cloud_user(name),
                                                         [new_anchor()])
                self.write_rows(intended)
            elif rnd.random() < 0.2:
                # The admin changes the anchor of a user that holds no value yet.
                open_users = [upn for upn, (uid, _) in intended.items()
                              if not self.value_of(uid)]
                if open_users:
                    intended[rnd.choice(open_users)][1].append(new_anchor())
                    self.write_rows(intended)
        # No more kills: every user ends with a value.
        d.start()
        wait_until("every user written", lambda: all(
            self.value_of(uid) for uid, _ in intended.values()), timeout=300)
        wait_until("every intent settled", lambda: self.open_intents(d) == 0, timeout=120)
        d.stop()
        self.check_files_whole(d, KILLS + 1)
        writes = {}
        for w in self.patches():
            writes.setdefault(w["path"].rsplit("/", 1)[-1], []).append(w)
        for upn, (uid, values) in intended.items():
            got = writes.get(uid, [])
            self.assertEqual(len(got), 1, "%s: Graph processed %d PATCHes: %s"
                             % (upn, len(got), got))
            self.assertIn(self.value_of(uid), values, upn)
        kinds = [r["kind"] for r in self.journal(d)]
        return kinds, in_flight, len(intended)

    def test_sigkill_loop_never_writes_twice(self):
        seed = os.environ.get("QD_KILL_SEED") or str(time.time_ns())
        try:
            kinds, in_flight, users = self.run_loop(seed)
        except AssertionError as e:
            raise AssertionError("QD_KILL_SEED=%s: %s" % (seed, e)) from None
        print("\nkill loop: %d kills (%d after a PATCH was sent), %d users, seed %s: "
              "journal: %d intents, %d applied, %d indoubt, %d reconciled"
              % (KILLS, in_flight, users, seed, kinds.count("intent"),
                 kinds.count("applied"), kinds.count("indoubt"),
                 kinds.count("reconciled")))
