"""End-to-end harness: the real daemon (QD_BIN) against the real simulator
(scripts/graphsim) over HTTPS on 127.0.0.1.

Certificates are made once per run with scripts/graphsim-certs.  Each test class
starts one simulator process (port 0, --port-file); each test reloads the scenario
(which also clears tokens, faults, settings and the request and write logs), writes a
daemon configuration into its own temporary directory and runs the daemon in the
foreground (-d, debug log on stderr captured to a file).  Every wait polls for the
condition the test then asserts, never sleeps for a fixed time, and has a generous
deadline (WAIT) that only a failing test reaches; every process is killed by a
cleanup whatever the test outcome."""

import atexit
import datetime
import json
import os
import re
import resource
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPTS = os.path.join(ROOT, "scripts")
SCENARIOS = os.path.join(ROOT, "tests", "scenarios")
DEMO = os.path.join(SCENARIOS, "demo.json")

TENANT_ID = "6e9e7f1a-4c3b-4b2a-9f0e-1d2c3b4a5f60"
TENANT_DOMAIN = "contoso.com"
READER_ID = "0f4a5b6c-7d8e-4f90-a1b2-c3d4e5f60718"
READER_SECRET = "reader-secret"
WRITER_ID = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
WRITER_SECRET = "writer-secret"

# A test that waits longer than this for one thing has failed.  Generous, because the
# machine may be loaded (CI, parallel builds): a wait returns as soon as its condition
# holds, so only a failing test ever waits this long.
WAIT = 60.0


def qd_bin():
    path = os.environ.get("QD_BIN", "build/quarantined")
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


_certs = None


def cert_dir():
    """One CA and server certificate per test run."""
    global _certs
    if _certs is None:
        _certs = tempfile.mkdtemp(prefix="qd-e2e-certs-")
        atexit.register(shutil.rmtree, _certs, True)
        subprocess.run([os.path.join(SCRIPTS, "graphsim-certs"), _certs], check=True,
                       timeout=60)
    return _certs


def parse_time(text):
    """ISO 8601 with a Z or an offset, as both the daemon and the simulator write it."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_until(what, probe, timeout=WAIT, interval=0.05):
    """Calls probe() until it returns something true; returns that, or raises
    AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def kill_process(proc):
    if proc is not None and proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


class HTTPReply:
    def __init__(self, status, body):
        self.status, self.body = status, body

    @property
    def json(self):
        return json.loads(self.body)


class Simulator:
    """scripts/graphsim as a child process, and its control API."""

    def __init__(self, workdir, scenario=DEMO, clock=None):
        """clock: None (graphsim's default, auto) or "manual": simulated time then
        moves only through advance()."""
        self.workdir = workdir
        self.scenario = scenario
        self.clock = clock
        self.proc = None
        self.base = None
        certs = cert_dir()
        self.ca_file = os.path.join(certs, "ca.pem")
        self.ctx = ssl.create_default_context(cafile=self.ca_file)

    def start(self, port=0):
        """port: 0 lets the kernel pick one; a number starts it again on the port an
        earlier start() had (self.port), as a restarted server would."""
        certs = cert_dir()
        port_file = os.path.join(self.workdir, "graphsim.port")
        self.log_path = os.path.join(self.workdir, "graphsim.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(SCRIPTS, "graphsim"), "--host", "127.0.0.1",
                 "--port", str(port), "--port-file", port_file,
                 "--tls-cert", os.path.join(certs, "server.pem"),
                 "--tls-key", os.path.join(certs, "server.key"),
                 "--scenario", self.scenario]
                + (["--clock", self.clock] if self.clock else []),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

        def port():
            if self.proc.poll() is not None:
                raise AssertionError("graphsim exited with %s: %s"
                                     % (self.proc.returncode, self.log_tail()))
            try:
                with open(port_file) as f:
                    text = f.read().strip()
                return int(text) if text else None
            except (OSError, ValueError):
                return None

        self.port = wait_until("graphsim's port file", port)
        self.base = "https://127.0.0.1:%d" % self.port
        wait_until("graphsim /_sim/health", self._healthy)
        return self

    def _healthy(self):
        try:
            return self.request("GET", "/_sim/health", timeout=10).status == 200
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill_process(self.proc)

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # ----- HTTP ------------------------------------------------------------------------
    def request(self, method, path, body=None, timeout=WAIT):
        data, headers = None, {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ctx) as resp:
                return HTTPReply(resp.status, resp.read())
        except urllib.error.HTTPError as err:
            return HTTPReply(err.code, err.read())

    def control(self, method, path, body=None, expect=(200, 201)):
        reply = self.request(method, "/_sim/" + path.lstrip("/"), body)
        if reply.status not in expect:
            raise AssertionError("%s /_sim/%s: HTTP %d %s"
                                 % (method, path, reply.status, reply.body[:500]))
        return reply.json

    def tenant(self, path="", method="GET", body=None, tenant_id=TENANT_ID):
        return self.control(method, "tenants/%s%s" % (tenant_id, path), body)

    # ----- shortcuts ---------------------------------------------------------------------
    def load(self, scenario=None):
        return self.control("POST", "scenario", {"path": scenario or self.scenario})

    def settings(self, **changes):
        return self.tenant("/settings", "POST", changes)

    def add_faults(self, *specs):
        return self.control("POST", "faults", list(specs))["added"]

    def faults(self):
        return self.control("GET", "faults")["faults"]

    def issued_tokens(self):
        return self.control("GET", "tokens")["value"]

    def expire_tokens(self):
        return self.control("POST", "tokens/expire")

    def requests(self, since=0):
        return self.control("GET", "requests?since=%d" % since)["value"]

    def graph_requests(self, since=0):
        return [e for e in self.requests(since) if e.get("kind") == "graph"]

    def batch_items(self, since=0):
        """The requests made inside $batch POSTs (logged one by one, with batchId)."""
        return [e for e in self.requests(since) if e.get("batchId")]

    def batch_posts(self, since=0):
        return [e for e in self.graph_requests(since) if e["path"] == "/v1.0/$batch"]

    def writes(self):
        return self.control("GET", "writes")["value"]

    def advance(self, seconds):
        """Moves the simulated clock on; the service's sweep runs at every hourly
        boundary crossed.  Returns the control API's answer (with "sweeps")."""
        return self.control("POST", "clock/advance", {"seconds": seconds})

    def quarantines(self, tenant_id=TENANT_ID):
        return self.tenant("/quarantines", tenant_id=tenant_id)["value"]

    def expected_conflicts(self, tenant_id=TENANT_ID):
        """(objectType, objectId, property, value) of every quarantined value the
        simulator reports, in the daemon's vocabulary: user/group/contact, upn/proxy,
        the value without an SMTP: prefix, lower-cased."""
        kinds = {"users": "user", "groups": "group", "contacts": "contact"}
        out = set()
        for obj in self.quarantines(tenant_id):
            for err in obj["onPremisesProvisioningErrors"]:
                if err.get("category") != "PropertyConflict":
                    continue
                prop = "upn" if err["propertyCausingError"] == "UserPrincipalName" else "proxy"
                value = err["value"]
                if value.lower().startswith("smtp:"):
                    value = value[5:]
                out.add((kinds[obj["objectType"]], obj["id"], prop, value.lower()))
        return out


CYCLE_RE = r"tenant %s: (\d+) conflicts? \((\d+) new, (\d+) cleared\)"


class Daemon:
    """One daemon configuration in a temporary directory; start() may be called again
    after stop() (same state_dir, same alerts file, a new log file)."""

    def __init__(self, sim, workdir, name="e2e", page_size=1, poll_interval="1s",
                 secret=READER_SECRET, secret_mode=0o600, inventory=None, extra_tenants=(),
                 daemon_options=(), client_id=READER_ID, tenant_lines=(), options=None,
                 health=True):
        """extra_tenants: (name, tenant_id, client_id, secret) of further [tenant]
        sections, each with its own secret file (mode 0600); daemon_options: further
        "key = value" lines for [daemon], options: the same as a dict (e.g.
        {"sweep_interval": "2s"}); tenant_lines: more "key = value" lines for the
        first [tenant] section; health: False turns the health endpoint off."""
        self.sim = sim
        self.workdir = workdir
        self.name = name
        self.state_dir = os.path.join(workdir, "state")
        self.alerts_path = os.path.join(workdir, "alerts.jsonl")
        self.conf_path = os.path.join(workdir, "quarantined.conf")
        self.secret_path = os.path.join(workdir, "%s.secret" % name)
        self.socket_path = os.path.join(workdir, "health.sock")
        self.proc = None
        self.runs = 0
        self.log_path = None
        self.returncode = None
        self.write_secret(secret, secret_mode)
        lines = ["[daemon]",
                 "state_dir = %s" % self.state_dir,
                 "log_level = debug",
                 "poll_interval = %s" % poll_interval,
                 "page_size = %d" % page_size,
                 # The kernel picks the port (health_url() reads it from
                 # the log), so parallel runs never collide.
                 "health_listen = %s" % ("127.0.0.1:0" if health else "none"),
                 "health_socket = %s" % (self.socket_path if health else "none")]
        if inventory:
            lines.append("inventory = %s" % inventory)
        lines += list(daemon_options)
        for key, value in (options or {}).items():
            lines.append("%s = %s" % (key, value))
        lines += ["", "[alerts]", "syslog = no", "jsonl_file = %s" % self.alerts_path, "",
                  "[tenant %s]" % name,
                  "tenant_id = %s" % TENANT_ID,
                  "client_id = %s" % client_id,
                  "client_secret_file = %s" % self.secret_path,
                  "login_url = %s" % sim.base,
                  "graph_url = %s" % sim.base,
                  "ca_file = %s" % sim.ca_file] + list(tenant_lines) + [""]
        for tname, tid, cid, tsecret in extra_tenants:
            path = os.path.join(workdir, "%s.secret" % tname)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(tsecret + "\n")
            lines += ["[tenant %s]" % tname, "tenant_id = %s" % tid, "client_id = %s" % cid,
                      "client_secret_file = %s" % path, "login_url = %s" % sim.base,
                      "graph_url = %s" % sim.base, "ca_file = %s" % sim.ca_file, ""]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines))

    def write_secret(self, secret, mode=0o600):
        fd = os.open(self.secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
        os.chmod(self.secret_path, mode)

    # ----- process -----------------------------------------------------------------------
    # Run by a Python started in the daemon's place (argv: count, program, args):
    # raises its soft RLIMIT_NOFILE to the hard limit, opens count descriptors
    # (3, 4, ... with no gap, since nothing else is open), then becomes the daemon.
    FILL_FDS = ("import os, resource, sys\n"
                "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
                "resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n"
                "for _ in range(int(sys.argv[1])):\n"
                "    os.set_inheritable(os.open(os.devnull, os.O_RDONLY), True)\n"
                "os.execv(sys.argv[2], sys.argv[2:])\n")

    def start(self, nofile=None, open_fds=0, env=None, wrapper=()):
        """nofile: the daemon's RLIMIT_NOFILE: a number for both the soft and the
        hard limit, a (soft, hard) pair, or None to inherit ours.  open_fds: how many
        descriptors the daemon inherits open (on /dev/null), so that every one it
        opens itself is numbered above them.  env: more environment variables;
        wrapper: a command (argv list) that ends by exec'ing the daemon's argv, which
        follows it, in the same process (so self.proc.pid stays the daemon's)."""
        assert self.proc is None or self.proc.poll() is not None, "daemon already running"
        self.runs += 1
        self.log_path = os.path.join(self.workdir, "daemon-%d.log" % self.runs)
        self.returncode = None
        with open(self.log_path, "wb") as log:
            limit = None
            if nofile is not None:
                pair = nofile if isinstance(nofile, tuple) else (nofile, nofile)

                def limit():
                    resource.setrlimit(resource.RLIMIT_NOFILE, pair)
            # QD_WRAPPER: a command the daemon runs under, e.g. valgrind (make
            # e2e-valgrind); its exit status must still be 0 on a clean stop.
            argv = list(wrapper) + shlex.split(os.environ.get("QD_WRAPPER", "")) + \
                [qd_bin(), "-d", "-f", self.conf_path]
            if open_fds:
                argv = [sys.executable, "-c", self.FILL_FDS, str(open_fds)] + argv
            self.proc = subprocess.Popen(argv,
                                         stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log,
                                         preexec_fn=limit,
                                         env=dict(os.environ, **env) if env else None)
        return self

    def run_to_exit(self, timeout=WAIT):
        """Starts the daemon and waits for it to exit; returns (exit code, log)."""
        self.start()
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_process(self.proc)
            raise AssertionError("the daemon did not exit within %.0f s:\n%s"
                                 % (timeout, self.log_tail()))
        return self.returncode, self.log()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, test=None):
        """SIGTERM; the daemon must exit 0 after logging "stopped cleanly"."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.returncode = self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            kill_process(self.proc)
            raise AssertionError("the daemon ignored SIGTERM for %.0f s:\n%s"
                                 % (WAIT, self.log_tail()))
        if self.returncode != 0 or "stopped cleanly" not in self.log():
            raise AssertionError("the daemon exited with %s, not a clean stop:\n%s"
                                 % (self.returncode, self.log_tail()))
        return self.returncode

    def kill(self):
        kill_process(self.proc)

    # ----- log -----------------------------------------------------------------------------
    def log(self):
        if not self.log_path:
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def all_logs(self):
        text = []
        for run in range(1, self.runs + 1):
            with open(os.path.join(self.workdir, "daemon-%d.log" % run), errors="replace") as f:
                text.append(f.read())
        return "".join(text)

    def log_tail(self, n=40):
        return "".join(self.log().splitlines(True)[-n:])

    def log_lines(self, pattern):
        """Lines of the current log matching the regular expression."""
        rx = re.compile(pattern)
        return [line for line in self.log().splitlines() if rx.search(line)]

    def wait(self, what, probe, timeout=WAIT, detail=None):
        """Waits until probe() returns something true and returns it.  Fails at once
        when the daemon exits first, and after `timeout` seconds with detail() (a
        string, if given) and the log tail."""
        def step():
            value = probe()
            if value:
                return value
            if not self.running():
                raise AssertionError("the daemon exited (%s) while waiting for %s:\n%s"
                                     % (self.proc.returncode, what, self.log_tail()))
            return None
        try:
            return wait_until(what, step, timeout)
        except AssertionError as exc:
            if "timed out" in str(exc):
                raise AssertionError("%s%s; log tail:\n%s"
                                     % (exc, detail() if detail else "", self.log_tail()))
            raise

    def wait_for_log(self, pattern, count=1, timeout=WAIT):
        """Waits until the current log has `count` lines matching the regular
        expression; returns them."""
        def probe():
            lines = self.log_lines(pattern)
            return lines if len(lines) >= count else None
        return self.wait("%d log line(s) matching %r" % (count, pattern), probe, timeout)

    def health_url(self):
        """The health endpoint's URL, from the daemon's "listening on" line."""
        line = self.wait_for_log(r"health: listening on http://")[0]
        return re.search(r"(http://\S+/)", line).group(1)

    def cycles(self, name=None):
        """(conflicts, new, cleared) of every completed cycle in the current log."""
        rx = re.compile(CYCLE_RE % re.escape(name or self.name))
        return [tuple(int(g) for g in m.groups()) for m in rx.finditer(self.log())]

    def wait_for_cycles(self, count, timeout=WAIT, name=None):
        """Waits until `count` cycles in all have completed in the current run."""
        self.wait_for_log(CYCLE_RE % re.escape(name or self.name), count, timeout)
        return self.cycles(name)

    def wait_for_more_cycles(self, more=1, timeout=WAIT):
        return self.wait_for_cycles(len(self.cycles()) + more, timeout)

    def wait_for_cycle(self, cycle, then=0, timeout=WAIT):
        """Waits until a cycle logged as `cycle` ((conflicts, new, cleared)) has
        completed, and `then` more after it; returns the cycles of the current run.  An
        alert comes before the log line of the cycle that raised it (the file sink
        writes a batch of up to 512 the moment the state commits them), so a test
        that saw an alert waits for that cycle this way, not by counting cycles."""
        def probe():
            cycles = self.cycles()
            if cycle in cycles and len(cycles) - cycles.index(cycle) > then:
                return cycles
            return None
        return self.wait("cycle %s and %d more" % (cycle, then), probe, timeout,
                         lambda: "; cycles: %s" % self.cycles())

    # ----- alerts ------------------------------------------------------------------------
    def alerts(self):
        return [json.loads(line) for line in self.alert_lines() if line.strip()]

    def alert_lines(self):
        """The complete lines of the alerts file: one the daemon is still
        writing is not an alert yet."""
        try:
            with open(self.alerts_path) as f:
                return f.read().split("\n")[:-1]
        except FileNotFoundError:
            return []

    def wait_for_alerts(self, predicate, timeout=WAIT):
        """Waits until predicate(list of alerts) is true; returns the alerts."""
        def probe():
            alerts = self.alerts()
            return (alerts or [None]) if predicate(alerts) else None
        alerts = self.wait("alerts", probe, timeout,
                           lambda: "; alerts so far: %d" % len(self.alerts()))
        return [a for a in alerts if a is not None]


def detected(alerts):
    return [a for a in alerts if a["event"] == "conflict.detected"]


def cleared(alerts):
    return [a for a in alerts if a["event"] == "conflict.cleared"]


def released(alerts):
    return [a for a in alerts if a["event"] == "conflict.released"]


def events(alerts, name):
    """The alerts of one type, e.g. events(alerts, "conflict.freed")."""
    return [a for a in alerts if a["event"] == name]


def alert_key(alert):
    return (alert["objectType"], alert["objectId"], alert["property"], alert["value"].lower())


class E2ETestCase(unittest.TestCase):
    """One simulator per class; the scenario is reloaded before every test."""

    scenario = DEMO
    clock = None  # graphsim --clock; "manual" freezes simulated time between advances

    @classmethod
    def setUpClass(cls):
        cls.classdir = tempfile.mkdtemp(prefix="qd-e2e-")
        if os.environ.get("QD_E2E_KEEP"):
            sys.stderr.write("e2e: keeping %s\n" % cls.classdir)
        else:
            cls.addClassCleanup(shutil.rmtree, cls.classdir, True)
        cls.sim = Simulator(cls.classdir, cls.scenario, cls.clock)
        cls.addClassCleanup(cls.sim.stop)
        cls.sim.start()

    def setUp(self):
        if self.sim.proc.poll() is not None:
            self.fail("graphsim died: %s" % self.sim.log_tail())
        self.sim.load(self.scenario)
        self.workdir = tempfile.mkdtemp(prefix="%s-" % self._testMethodName,
                                        dir=self.classdir)
        self._daemons = []

    def daemon(self, **kw):
        d = Daemon(self.sim, self.workdir, **kw)
        self._daemons.append(d)
        self.addCleanup(d.kill)
        return d

    def assertNoWrites(self):
        """Monitor-only: no Graph write attempt and no request but GET/POST-token (and
        POST $batch of GETs)."""
        self.assertEqual(self.sim.writes(), [], "the daemon wrote to the tenant")
        # A POST to $batch is a read when every request inside it is a GET.
        reqs = self.sim.requests()
        non_get = [(e["method"], e["path"]) for e in reqs
                   if (e.get("kind") == "graph" and e["path"] != "/v1.0/$batch"
                       or e.get("batchId")) and e["method"] != "GET"]
        self.assertEqual(non_get, [], "Graph requests other than GET")
