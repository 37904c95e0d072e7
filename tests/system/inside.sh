#!/bin/sh
# inside.sh: the system test's checks, run by qd-systest.service inside a
# booted Debian root (systemd-nspawn --boot).  /qd is bound from the host:
# it holds the package, the secret, the CA and the configurations, and
# receives out/ (steps.txt, journal and alert files) for the host to
# parse.  Every wait is on a condition, with a deadline.  The unit powers
# the container off afterwards, whatever happened here.
set -u
IN=/qd
OUT=/qd/out
mkdir -p "$OUT"
exec >"$OUT/inside.log" 2>&1
set -x

step() { echo "$1 $2" >> "$OUT/steps.txt"; }

# wait_for WHAT SECONDS COMMAND...: runs COMMAND until it succeeds.
wait_for() {
  what=$1 secs=$2
  shift 2
  end=$(( $(date +%s) + secs ))
  while ! "$@"; do
    if [ "$(date +%s)" -ge "$end" ]; then
      echo "timed out waiting for $what"
      return 1
    fi
    sleep 0.2
  done
}

prop() { systemctl show -P "$1" quarantined.service; }
active() { [ "$(prop ActiveState)" = active ]; }
status_has() { prop StatusText | grep -q -- "$1"; }

finish() {
  journalctl -o json --no-pager > "$OUT/journal.json" 2>/dev/null
  step done ok
  exit 0
}

# 1. Install the package with apt, from the file (no network needed: the
# root has the libraries).
if apt-get install -y -q --no-install-recommends "$IN/quarantined.deb"; then
  step install ok
else
  step install fail; finish
fi
systemctl is-enabled quarantined.service > "$OUT/enabled.txt" 2>&1
systemd-analyze security --offline=yes --no-pager \
  /lib/systemd/system/quarantined.service > "$OUT/security.txt" 2>&1
step security ok

# 2. A credential put in place as the README says, and the configuration.
install -m 0600 "$IN/e2e.secret" /etc/quarantined/credentials/e2e.secret
install -m 0644 "$IN/ca.pem" /etc/quarantined/ca.pem
install -m 0644 "$IN/quarantined.conf" /etc/quarantined/quarantined.conf
quarantined -n > "$OUT/check-root.txt" 2>&1; echo "exit $?" >> "$OUT/check-root.txt"
# Shorter watchdog and restart delay, so the SIGSTOP test takes seconds.
mkdir -p /etc/systemd/system/quarantined.service.d
printf '[Service]\nWatchdogSec=3s\nRestartSec=1s\n' \
  > /etc/systemd/system/quarantined.service.d/systest.conf
systemctl daemon-reload

# 3. Start: active only after READY=1, STATUS= shows the conflicts.
systemctl enable --now quarantined.service
if wait_for "active" 30 active; then step active ok; else step active fail; fi
expected=$(cat "$IN/expected-conflicts")
if wait_for "STATUS= with the conflicts" 60 \
     status_has "monitoring 1 tenant: $expected conflicts"; then
  step status ok
else
  step status fail
fi
prop StatusText > "$OUT/status-1.txt"
if wait_for "alerts in the JSON lines file" 30 \
     test -s /var/log/quarantined/alerts.jsonl; then
  step alerts-file ok
else
  step alerts-file fail
fi
cp /var/log/quarantined/alerts.jsonl "$OUT/alerts.jsonl" 2>/dev/null

# 4. systemctl reload applies a changed configuration.
install -m 0644 "$IN/quarantined-2.conf" /etc/quarantined/quarantined.conf
systemctl reload quarantined.service
if wait_for "the reloaded configuration" 30 status_has "monitoring 2 tenants"; then
  step reload ok
else
  step reload fail
fi
prop StatusText > "$OUT/status-2.txt"

# 5. A stopped (SIGSTOP) daemon misses its watchdog pings and is restarted.
pid=$(prop MainPID)
restarts=$(prop NRestarts)
kill -STOP "$pid"
restarted() {
  [ "$(prop NRestarts)" -gt "$restarts" ] && active &&
    [ "$(prop MainPID)" != "$pid" ] && [ "$(prop MainPID)" != 0 ]
}
if wait_for "the watchdog restart" 60 restarted; then
  step watchdog ok
else
  step watchdog fail
fi
if wait_for "STATUS= after the restart" 60 status_has "monitoring 2 tenants"; then
  step status-after-restart ok
else
  step status-after-restart fail
fi

# 6. A clean stop.
systemctl stop quarantined.service
systemctl show -p Result -p ExecMainStatus -p ExecMainCode -p ActiveState \
  quarantined.service > "$OUT/stop.txt"
step stop ok

# 7. Purge leaves nothing behind: the package's files, the state and logs
# the service made, the credentials.  The CA bundle is the admin's own
# file, which dpkg leaves alone; the admin removes it.
journalctl -o json --no-pager > "$OUT/journal.json" 2>/dev/null
rm -f /etc/quarantined/ca.pem
systemctl disable quarantined.service
rm -rf /etc/systemd/system/quarantined.service.d
if apt-get purge -y -q quarantined; then step purge ok; else step purge fail; fi
systemctl daemon-reload
find / -xdev \( -path /qd -o -path /proc -o -path /sys \) -prune -o \
  -name '*quarantine*' -print > "$OUT/leftovers.txt" 2>/dev/null
systemctl cat quarantined.service > "$OUT/unit-after-purge.txt" 2>&1
step done ok
