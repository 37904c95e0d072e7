"""The Windows build under wine: the platform layer (daemon/plat_win32.c) and
quarantined.exe and quarantinectl.exe.

`make windows-check` cross-builds tests/win32/plat_check.c with the platform
layer, and the two programs (`make windows`), and runs this module with
QD_WINBUILD set to the build directory.  wine runs in a private
prefix there, headless (no DISPLAY, no Mono or Gecko installer); where wine
cannot start at all the tests are skipped with wine's own words.

What a Windows admin would notice is checked: the Event Log receives the
daemon's events under its source with the message ids of
daemon/win32/messages.mc (read from wine's +eventlog and advapi traces), a
secret file that Everyone may read is refused while the owner-only one is
accepted, state replaced through MoveFileExW holds the new content, a
DPAPI-protected secret is decrypted, cmd.exe runs post_apply_command, and the
service reaches RUNNING under the service control manager, takes the reload
control and stops cleanly (STOPPED, exit code 0).  quarantined.exe checks a
configuration (-n), refusing what Windows lacks with FILE:LINE, and runs a
poll cycle against scripts/graphsim over HTTPS, its alerts parsed as JSON and
compared with the simulator's own list of quarantined values: in console
mode, with an eventlog sink (one ReportEventW per alert), and as a service
of wine's service control manager, started and stopped with sc.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from tests.e2e.harness import (READER_ID, READER_SECRET, TENANT_ID, WAIT, Simulator,
                               alert_key, detected, kill_process)

BUILD = os.environ.get("QD_WINBUILD", os.path.join(os.getcwd(), "build-win"))
EXE = os.path.join(BUILD, "plat_check.exe")
DAEMON = os.path.join(BUILD, "quarantined.exe")
CTL = os.path.join(BUILD, "quarantinectl.exe")
SERVICE = "quarantined-platcheck"
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "scripts", "windows")


def wine_env(debug="-all"):
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["WINEPREFIX"] = os.path.join(BUILD, "wineprefix")
    env["WINEDLLOVERRIDES"] = "mscoree,mshtml="
    env["WINEDEBUG"] = debug
    return env


def winpath(path):
    """wine maps the Unix root to drive Z:."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def wine(*args, debug="-all,err+sc,err+service", timeout=120):
    """Runs a wine command.  Its output goes to files, not pipes: wine's
    helper processes (services.exe, winedevice.exe) inherit them and outlive
    the command, so a pipe would not reach end-of-file."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run(["wine"] + list(args), env=wine_env(debug),
                           stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(),
                                           err.read())


def sc_state(name):
    """(state, win32 exit code, service exit code) from `sc query`."""
    out = wine("sc", "query", name).stdout
    state = re.search(r"STATE\s*:\s*\d+\s+(\w+)", out)
    w32 = re.search(r"WIN32_EXIT_CODE\s*:\s*(\d+)", out)
    svc = re.search(r"SERVICE_EXIT_CODE\s*:\s*(\d+)", out)
    if not state:
        return (None, None, None)
    return (state.group(1), int(w32.group(1)), int(svc.group(1)))


def reg_values(key):
    """{name: (type, data)} of a registry key from `reg query`, or None when
    the key does not exist."""
    r = wine("reg", "query", key)
    if r.returncode != 0:
        return None
    return {m.group(1): (m.group(2), m.group(3)) for m in
            re.finditer(r"^\s+(\S+)\s+(REG_\w+)\s+(.*?)\s*$", r.stdout, re.M)}


def events_of(trace):
    """The conflict.detected events (warning, Event ID 100) in a +eventlog
    trace."""
    return re.findall(r"ReportEventW \(\w+,0x0002,0x\w{4},0x00000064,", trace)


def read_text(path):
    with open(path) as f:
        return f.read()


def wait_for(what, predicate, timeout=60):
    """Polls predicate until it returns a true value; the condition itself is
    what the test asserts, the timeout only bounds a broken run."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.2)


def boot_wine():
    """Brings the private prefix up, or raises SkipTest saying why wine cannot
    run.  A server left over by an interrupted run goes first.  The prefix is
    brought up (wineboot) with a server of its own, waited for; then one
    persistent wineserver serves the class: a service outlives each `wine sc`
    command only while it runs (services.exe loses services created under a
    server that wineboot shared)."""
    if not shutil.which("wine"):
        raise unittest.SkipTest("windows-check: wine is not installed "
                                "(scripts/install-deps installs wine64)")
    subprocess.run(["wineserver", "-k"], env=wine_env(),
                   stderr=subprocess.DEVNULL)
    subprocess.run(["wineserver", "-w"], env=wine_env())
    try:
        boot = wine("wineboot", "-i", timeout=600)
        subprocess.run(["wineserver", "-w"], env=wine_env(), timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        raise unittest.SkipTest("windows-check: wine cannot run here: %s" % e)
    if boot.returncode != 0:
        raise unittest.SkipTest("windows-check: wine cannot run here: "
                                "wineboot exited %d: %s"
                                % (boot.returncode, boot.stderr[-500:]))
    subprocess.run(["wineserver", "-p"], env=wine_env(), check=True)


class WindowsPlatform(unittest.TestCase):
    """The tests share one wine prefix and server; each uses services of its
    own names (the install test the real name, quarantined)."""

    @classmethod
    def setUpClass(cls):
        boot_wine()
        cls.dir = tempfile.mkdtemp(prefix="platcheck-", dir=BUILD)

    @classmethod
    def tearDownClass(cls):
        wine("sc", "stop", SERVICE)
        wine("sc", "delete", SERVICE)
        if hasattr(cls, "uninstall"):
            wine("cmd", "/c", cls.uninstall, "/purge")
        subprocess.run(["wineserver", "-k"], env=wine_env())
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_platform_calls(self):
        private = os.path.join(self.dir, "secret-private")
        opened = os.path.join(self.dir, "secret-open")
        with open(private, "w") as f:
            f.write("s3cr3t\n")
        os.chmod(private, 0o600)
        with open(opened, "w") as f:
            f.write("s3cr3t\n")
        os.chmod(opened, 0o644)
        r = wine(EXE, "check", winpath(self.dir), debug="+eventlog,fixme+advapi")
        results = {name: status for status, name in
                   re.findall(r"^(ok|not ok) (\S+?)(?::.*)?$", r.stdout, re.M)}
        expected = ["console-mode", "eventlog.exists", "eventlog.report",
                    "eventlog.report-notice", "eventlog.report-long", "fsync", "replace.rc",
                    "replace.content", "replace.tmp-gone", "secret.private-accepted",
                    "secret.open-refused", "dpapi.unprotect", "shell.spawn",
                    "shell.stdout", "shell.status"]
        for name in expected:
            with self.subTest(check=name):
                self.assertEqual(results.get(name), "ok", r.stdout)
        # The refusal names the file and the account that may read it
        # (Everyone is S-1-1-0).
        self.assertRegex(r.stdout, r"secret-open: its DACL gives S-1-1-0 access")

        # The Event Log: the source registered under the daemon's name, and
        # each event with its type and message id (severity bits | id).
        self.assertIn('RegisterEventSourceW ((null),L"quarantined")', r.stderr)
        calls = re.findall(r"ReportEventW \(0*[0-9A-Fa-f]+,0x(\w{4}),0x\w{4},0x(\w{8}),",
                           r.stderr)
        # The eventlog sink's alerts (daemon/sink_eventlog.c): the Event ID
        # of the alert type with severity bits 0, the event type from the
        # alert's severity, the text and the JSON record as two strings.
        self.assertIn(("0001", "0000006d"), calls)  # error, anchor.failed (109)
        self.assertIn(("0004", "00000067"), calls)  # information, released (103)
        # wine traces each string of an error event as an error line; line
        # ends become CRLF, as Event Viewer shows them.
        self.assertIn('err:eventlog:ReportEventW L"plat_check: an alert for the '
                      'Event Log\\r\\n\\r\\nRemediation:\\r\\nCheck the app role"',
                      r.stderr)
        self.assertIn('err:eventlog:ReportEventW L"{\\"event\\":\\"anchor.failed'
                      '\\",\\"severity\\":\\"error\\"}"', r.stderr)
        self.assertRegex(r.stderr, r'trace:eventlog:ReportEventW L"plat_check: a notice alert"')
        # The daemon's own log lines.
        self.assertIn(("0001", "c0000001"), calls)  # error, MSG_LOG_ERROR
        self.assertIn(("0004", "40000003"), calls)  # information, MSG_LOG_INFO
        self.assertRegex(r.stderr, r'err:eventlog:ReportEventW L"plat_check: an error '
                                   r'line for the Event Log"')

    def test_service_control(self):
        events = os.path.join(self.dir, "events")
        if os.path.exists(events):
            os.unlink(events)
        binpath = "%s service %s" % (winpath(EXE), winpath(self.dir))
        wine("sc", "stop", SERVICE)  # left by an interrupted run
        wine("sc", "delete", SERVICE)
        r = wine("sc", "create", SERVICE, "binPath=", binpath)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = wine("sc", "start", SERVICE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # START_PENDING, then RUNNING once the daemon said READY=1.
        wait_for("RUNNING", lambda: sc_state(SERVICE)[0] == "RUNNING")
        with open(events) as f:
            self.assertEqual(f.read().splitlines(), ["running"])

        # The reload control (128, as `sc control quarantined 128` sends
        # it; wine's sc has no `control`, so plat_check sends it).
        r = wine(EXE, "control", SERVICE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_for("the reload", lambda: "reload: service reload control"
                 in read_text(events))

        r = wine("sc", "stop", SERVICE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        state = wait_for("STOPPED", lambda: (lambda s: s if s[0] == "STOPPED" else None)(
            sc_state(SERVICE)))
        self.assertEqual(state, ("STOPPED", 0, 0))
        with open(events) as f:
            self.assertEqual(f.read().splitlines(),
                             ["running", "reload: service reload control",
                              "stop: service stop", "stopped"])

    def test_install_uninstall(self):
        """scripts/windows/install.cmd and uninstall.cmd as an administrator
        runs them: from the folder holding quarantined.exe (here
        plat_check.exe under that name, which runs as a service from the
        command line install.cmd gives the daemon)."""
        folder = os.path.join(self.dir, "Program Files", "quarantined")
        os.makedirs(folder)
        for name in ("install.cmd", "uninstall.cmd"):
            shutil.copy(os.path.join(SCRIPTS, name), folder)
        shutil.copy(EXE, os.path.join(folder, "quarantined.exe"))
        install = winpath(os.path.join(folder, "install.cmd"))
        type(self).uninstall = winpath(os.path.join(folder, "uninstall.cmd"))
        exe = winpath(os.path.join(folder, "quarantined.exe"))
        data = os.path.join(BUILD, "wineprefix", "drive_c", "ProgramData", "quarantined")
        wine("cmd", "/c", self.uninstall, "/purge")  # left by an interrupted run

        r = wine("cmd", "/c", install, "/start:sometimes")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("/start: 'sometimes' is not auto, delayed-auto or demand", r.stderr)
        self.assertIsNone(reg_values(r"HKLM\SYSTEM\CurrentControlSet\Services\quarantined"))

        r = wine("cmd", "/c", install, debug="-all,err+sc,fixme+icacls")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        svc = reg_values(r"HKLM\SYSTEM\CurrentControlSet\Services\quarantined")
        self.assertEqual(svc["ImagePath"][1], '"%s" -f "C:\\ProgramData\\quarantined'
                                              '\\quarantined.conf"' % exe)
        self.assertEqual(svc["ObjectName"][1], r"NT SERVICE\quarantined")
        self.assertEqual(svc["Start"][1], "0x2")  # SERVICE_AUTO_START
        self.assertIn("Duplicate Attribute Resiliency", svc["Description"][1])
        source = reg_values(r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog"
                            r"\Application\quarantined")
        self.assertEqual(source, {"EventMessageFile": ("REG_EXPAND_SZ", exe),
                                  "TypesSupported": ("REG_DWORD", "0x7")})
        self.assertTrue(os.path.isdir(data))
        # wine's icacls only prints what it was asked (its trace): the
        # folder inherits nothing; SYSTEM and Administrators by SID, and the
        # service account, for the folder and what it will hold.
        self.assertIn(r'"C:\\ProgramData\\quarantined" "/inheritance:r" "/grant:r" '
                      r'"*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F" '
                      r'"NT SERVICE\\quarantined:(OI)(CI)M"', r.stderr)
        # The commands wine's sc.exe lacks are warnings, not failures.
        self.assertIn("warning: sc failureflag quarantined 1 failed", r.stdout)

        r = wine("cmd", "/c", install)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("the service quarantined exists already", r.stderr)

        r = wine("sc", "start", "quarantined")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_for("RUNNING", lambda: sc_state("quarantined")[0] == "RUNNING")
        events = os.path.join(data, "events")
        self.assertEqual(read_text(events).splitlines(), ["running"])

        # uninstall.cmd stops the service (cleanly: it saw the stop), deletes
        # it and the event source, and keeps the data.
        r = wine("cmd", "/c", self.uninstall)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(read_text(events).splitlines(),
                         ["running", "stop: service stop", "stopped"])
        self.assertEqual(sc_state("quarantined"), (None, None, None))
        self.assertIsNone(reg_values(r"HKLM\SYSTEM\CurrentControlSet\Services\quarantined"))
        self.assertIsNone(reg_values(r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog"
                                     r"\Application\quarantined"))
        self.assertIn(r"C:\ProgramData\quarantined stays", r.stdout)
        self.assertTrue(os.path.isfile(events))

        # Again, with /purge: nothing left to stop or delete, the data goes.
        r = wine("cmd", "/c", self.uninstall, "/purge")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("no service quarantined", r.stdout)
        self.assertFalse(os.path.exists(data))


class WindowsDaemon(unittest.TestCase):
    """quarantined.exe and quarantinectl.exe (`make windows`) as a Windows
    admin runs them, in console mode: -n on a good and a bad configuration,
    one poll cycle against the simulator over HTTPS (curl with Schannel,
    verifying the simulator's certificate against ca_file) writing the JSON
    lines alerts, and quarantinectl reading what the daemon wrote."""

    @classmethod
    def setUpClass(cls):
        boot_wine()
        cls.dir = tempfile.mkdtemp(prefix="daemon-", dir=BUILD)
        cls.sim = Simulator(cls.dir).start()
        cls.addClassCleanup(cls.sim.stop)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["wineserver", "-k"], env=wine_env())
        shutil.rmtree(cls.dir, ignore_errors=True)

    def config(self, name, daemon_lines=(), sink_lines=()):
        """A configuration for the simulator's tenant in its own directory,
        every path in it a Windows one; returns (directory, conf path).
        Schannel matches the certificate's DNS names only, so the URLs name
        localhost (docs/windows.md, "TLS with Schannel and a CA file")."""
        d = os.path.join(self.dir, name)
        os.mkdir(d)
        secret = os.path.join(d, "contoso.secret")
        with open(secret, "w") as f:
            f.write(READER_SECRET + "\n")
        os.chmod(secret, 0o600)
        url = "https://localhost:%d" % self.sim.port
        lines = ["[daemon]",
                 "state_dir = %s" % winpath(os.path.join(d, "state")),
                 "log_level = debug",
                 "poll_interval = 1h",
                 "page_size = 2"] + list(daemon_lines) + [
                 "",
                 "[alerts]",
                 "syslog = no",
                 "jsonl_file = %s" % winpath(os.path.join(d, "alerts.jsonl")),
                 ""] + list(sink_lines) + [
                 "",
                 "[tenant contoso]",
                 "tenant_id = %s" % TENANT_ID,
                 "client_id = %s" % READER_ID,
                 "client_secret_file = %s" % winpath(secret),
                 "login_url = %s" % url,
                 "graph_url = %s" % url,
                 "ca_file = %s" % winpath(self.sim.ca_file), ""]
        conf = os.path.join(d, "quarantined.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines))
        return d, conf

    @staticmethod
    def alerts(path):
        """The alert lines written to path so far, each parsed as JSON (a
        line being written may be cut: it is not counted yet)."""
        try:
            text = read_text(path)
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.split("\n")[:-1]]

    def wait_for_detected(self, path, count, alive):
        """Waits until path holds count conflict.detected alerts and returns
        all its alerts; alive() returns True while the daemon runs, or why
        it stopped."""
        def probe():
            why = alive()
            if why is not True:
                raise AssertionError(why)
            got = self.alerts(path)
            return got if len(detected(got)) >= count else None
        return wait_for("%d conflict.detected alerts in %s" % (count, path), probe,
                        timeout=WAIT)

    def test_check_config(self):
        _, conf = self.config("check-ok")
        r = wine(DAEMON, "-n", "-f", winpath(conf))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("configuration OK", r.stdout)

        # What does not exist on Windows is refused with FILE:LINE, as is
        # any mistake.  Lines 6 and 7 of the [daemon] section:
        _, conf = self.config("check-bad", ["health_listen = 127.0.0.1:0",
                                            "poll_intervall = 5m"])
        r = wine(DAEMON, "-n", "-f", winpath(conf))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("configuration OK", r.stdout)
        self.assertIn("%s:6: health_listen: the health endpoint does not exist "
                      "on Windows" % winpath(conf), r.stderr)
        self.assertIn("%s:7: unknown key 'poll_intervall' in [daemon]"
                      % winpath(conf), r.stderr)

    def test_poll_cycle(self):
        self.sim.load()
        d, conf = self.config("poll")
        alerts_path = os.path.join(d, "alerts.jsonl")
        expected = self.sim.expected_conflicts()
        self.assertTrue(expected)
        with open(os.path.join(d, "daemon.log"), "w") as log:
            proc = subprocess.Popen(["wine", DAEMON, "-d", "-f", winpath(conf)],
                                    env=wine_env(), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(kill_process, proc)

        got = self.wait_for_detected(alerts_path, len(expected), lambda: proc.poll() is None
                                     or "quarantined.exe exited with %s: %s"
                                     % (proc.returncode, read_text(log.name)[-3000:]))
        self.assertEqual({alert_key(a) for a in detected(got)}, expected)
        self.assertEqual(len(detected(got)), len(expected))
        for a in detected(got):
            self.assertEqual(a["tenant"], "contoso")
            self.assertEqual(a["severity"], "warning")
        # The state file the cycle saved (MoveFileExW with write-through).
        state = wait_for("the state file", lambda: os.path.exists(
            os.path.join(d, "state", "contoso.state.json")))
        self.assertTrue(state)
        kill_process(proc)

        # quarantinectl.exe reads the same state offline.
        r = wine(CTL, "conflicts", "--offline", "-f", winpath(conf), "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rows = json.loads(r.stdout)
        self.assertEqual({(c["objectType"], c["objectId"], c["property"],
                           c["value"].lower()) for c in rows}, expected)

    def test_eventlog_sink(self):
        """An eventlog sink in quarantined.exe: each conflict.detected alert
        of a poll cycle is one ReportEventW call (wine's advapi and eventlog
        traces) of
        type warning with the Event ID of conflict.detected, 100, its text
        and JSON record as the strings."""
        self.sim.load()
        d, conf = self.config("eventlog", sink_lines=["[sink events]", "type = eventlog"])
        expected = self.sim.expected_conflicts()
        log_path = os.path.join(d, "daemon.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(["wine", DAEMON, "-d", "-f", winpath(conf)],
                                    env=wine_env("-all,+eventlog,fixme+advapi"),
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)
        self.addCleanup(kill_process, proc)

        def events():
            if proc.poll() is not None:
                raise AssertionError("quarantined.exe exited with %s: %s"
                                     % (proc.returncode, read_text(log_path)[-3000:]))
            return events_of(read_text(log_path))
        try:
            wait_for("%d conflict.detected events" % len(expected),
                     lambda: len(events()) >= len(expected), timeout=WAIT)
        except AssertionError as e:
            calls = [line for line in read_text(log_path).splitlines()
                     if "ReportEventW (" in line]
            raise AssertionError("%s; the calls traced: %s" % (e, calls[:5]))
        kill_process(proc)
        trace = read_text(log_path)
        self.assertEqual(len(events_of(trace)), len(expected))
        # The strings of a warning are traced as warn: lines; the second is
        # the alert's JSON record, which names the event type.
        records = re.findall(r'warn:eventlog:ReportEventW L"(\{.*)', trace)
        self.assertEqual(len([r for r in records if '\\"conflict.detected\\"' in r]),
                         len(expected), trace[-3000:])

    def test_service(self):
        """quarantined.exe as a service of wine's service control manager:
        START_PENDING, RUNNING once the daemon is ready, a poll cycle's
        alerts, then the stop control: STOPPED with exit code 0."""
        self.sim.load()
        d, conf = self.config("service")
        name = "quarantined-service-test"
        wine("sc", "stop", name)  # left by an interrupted run
        wine("sc", "delete", name)
        self.addCleanup(wine, "sc", "delete", name)
        self.addCleanup(wine, "sc", "stop", name)
        r = wine("sc", "create", name, "binPath=",
                 "%s -f %s" % (winpath(DAEMON), winpath(conf)))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = wine("sc", "start", name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        wait_for("RUNNING", lambda: sc_state(name)[0] == "RUNNING")
        expected = self.sim.expected_conflicts()

        def alive():
            state = sc_state(name)
            return True if state[0] == "RUNNING" else "the service is %s" % (state,)
        got = self.wait_for_detected(os.path.join(d, "alerts.jsonl"), len(expected), alive)
        self.assertEqual({alert_key(a) for a in detected(got)}, expected)

        r = wine("sc", "stop", name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        state = wait_for("STOPPED", lambda: (lambda s: s if s[0] == "STOPPED" else None)(
            sc_state(name)))
        self.assertEqual(state, ("STOPPED", 0, 0))

    def test_quarantinectl(self):
        r = wine(CTL, "-V")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "quarantinectl 0.1.0"),
                         r.stderr)
        r = wine(CTL, "-h")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("usage: quarantinectl", r.stdout + r.stderr)
        r = wine(CTL, "guid2anchor", "4e505259-1b5d-4f4d-a1cb-9f5ffcb24bb0")
        self.assertEqual((r.returncode, r.stdout.strip()),
                         (0, "WVJQTl0bTU+hy59f/LJLsA=="), r.stderr)
        # No libxml2 on Windows: csexport says so, naming the file.
        xml = os.path.join(self.dir, "cs.xml")
        r = wine(CTL, "csexport", "import", winpath(xml))
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s: csexport import needs libxml2" % winpath(xml), r.stderr)


if __name__ == "__main__":
    unittest.main()
