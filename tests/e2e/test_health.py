"""End-to-end tests of what an administrator asks the daemon: the health endpoint
(/livez, /readyz, /metrics checked by promtool, /status.json, /conflicts.json on the
Unix socket only) and quarantinectl's conflicts, show, status and check, against the
running daemon and, once it has stopped, against the state directory."""

import csv
import http.client
import io
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import urllib.error
import urllib.request

try:
    from . import harness
except ImportError:  # discovered with tests/e2e as the top level
    import harness

wait_until = harness.wait_until


def ctl_bin():
    path = os.environ.get("QD_CTL", "build/quarantinectl")
    return path if os.path.isabs(path) else os.path.join(harness.ROOT, path)


def get(url, method="GET"):
    """(status, body text) of one request; no proxy is ever used."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, method=method)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def unix_get(path, url):
    conn = UnixHTTPConnection(path)
    try:
        conn.request("GET", url)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def parse_metrics(text):
    """An independent reading of the Prometheus text format: {(name, labels): value},
    with every sample's family declared by a TYPE line before it."""
    samples, types = {}, {}
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if line.startswith("#") or not line:
            continue
        m = sample.match(line)
        assert m, "not a sample line: %r" % line
        name, labels = m.group(1), tuple(label.findall(m.group(3) or ""))
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or base in types, "%s has no TYPE" % name
        samples[(name, tuple((k, v) for k, v, _ in labels))] = float(m.group(4))
    return samples, types


class HealthTest(harness.E2ETestCase):

    def start(self, **kw):
        d = self.daemon(**kw).start()
        return d

    def ctl(self, *args, d=None, check=None):
        """Runs quarantinectl with the daemon's configuration; (code, out, err)."""
        argv = [ctl_bin()] + list(args)
        if d is not None and args and args[0] in ("conflicts", "show", "status", "check"):
            argv += ["-f", d.conf_path]
        # Bytes, decoded here: CSV's CRLF must reach the test untranslated.
        proc = subprocess.run(argv, capture_output=True, timeout=60,
                              env=dict(os.environ, NO_COLOR="1"))
        out, err = proc.stdout.decode(), proc.stderr.decode()
        if check is not None:
            self.assertEqual(proc.returncode, check,
                             "%s: exit %d\n%s%s" % (args, proc.returncode, out, err))
        return proc.returncode, out, err

    def test_endpoints(self):
        d = self.start()
        d.wait_for_cycles(1)
        url = d.health_url()
        self.assertTrue(url.startswith("http://127.0.0.1:"))
        expected = self.sim.expected_conflicts()

        self.assertEqual(get(url + "livez"), (200, "ok\n"))
        self.assertEqual(get(url + "readyz"), (200, "ok\n"))
        status, page = get(url)
        self.assertEqual(status, 200)
        for link in ("livez", "readyz", "metrics", "status.json"):
            self.assertIn('href="%s"' % link, page)
        self.assertEqual(get(url + "livez", "POST")[0], 405)
        self.assertEqual(get(url + "nothing")[0], 404)
        # The conflicts name people: not on the TCP port.
        self.assertEqual(get(url + "conflicts.json")[0], 404)

        status, text = get(url + "metrics")
        self.assertEqual(status, 200)
        promtool = shutil.which("promtool")
        if promtool:
            proc = subprocess.run([promtool, "check", "metrics"], input=text,
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        samples, types = parse_metrics(text)
        total = sum(v for (name, _), v in samples.items()
                    if name == "quarantined_conflicts")
        self.assertEqual(total, len(expected))
        upn = sum(v for (name, labels), v in samples.items()
                  if name == "quarantined_conflicts" and ("attribute", "upn") in labels)
        self.assertEqual(upn, len([e for e in expected if e[2] == "upn"]))
        self.assertGreaterEqual(
            samples[("quarantined_cycles_total", (("tenant", "e2e"),))], 1)
        self.assertGreater(
            samples[("quarantined_graph_requests_total", (("tenant", "e2e"),))], 0)
        self.assertEqual(samples[("quarantined_token_valid", (("tenant", "e2e"),))], 1)
        self.assertEqual(types["quarantined_conflict_age_seconds"], "histogram")
        self.assertIn(("quarantined_build_info", (("version", "0.1.0"),)), samples)
        # The file sink delivers from its spool after the cycle: wait for the
        # count to reach the alerts the file holds.
        key = ("quarantined_alerts_delivered_total", (("sink", "jsonl"),))
        self.assertIn(key, samples)
        wait_until("the jsonl sink's delivered count", lambda: (
            len(d_alerts(d)) >= len(expected) and
            parse_metrics(get(url + "metrics")[1])[0][key] == len(d_alerts(d))))

        status, text = get(url + "status.json")
        self.assertEqual(status, 200)
        doc = json.loads(text)
        self.assertTrue(doc["ready"])
        [t] = doc["tenants"]
        self.assertEqual((t["name"], t["conflicts"], t["lastResult"], t["token"]),
                         ("e2e", len(expected), "ok", "valid"))
        self.assertEqual(sum(t["states"].values()), len(expected))

        status, text = unix_get(d.socket_path, "/conflicts.json")
        self.assertEqual(status, 200)
        got = {(c["objectType"], c["objectId"], c["property"], c["value"].lower())
               for c in json.loads(text)["tenants"][0]["conflicts"]}
        self.assertEqual(got, expected)
        self.assertEqual(unix_get(d.socket_path, "/conflicts.json?tenant=nope")[0], 404)
        d.stop()
        self.assertFalse(os.path.exists(d.socket_path), "socket file left behind")

    def test_answers_with_descriptors_above_fd_setsize(self):
        """The unit raises LimitNOFILE to 65536, so the endpoint's sockets may be
        numbered at or above FD_SETSIZE (1024), which select() cannot watch.  The
        daemon inherits 1100 open descriptors here, so every socket it opens (the
        listeners, each connection) lies above that bound, and must still answer."""
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 2048:
            self.skipTest("hard RLIMIT_NOFILE %d is below 2048" % hard)
        d = self.daemon().start(open_fds=1100)
        url = d.health_url()
        d.wait_for_cycles(1)
        sockets = []
        for name in os.listdir("/proc/%d/fd" % d.proc.pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (d.proc.pid, name)).startswith("socket:"):
                    sockets.append(int(name))
            except OSError:
                pass  # closed meanwhile
        self.assertGreaterEqual(len(sockets), 2, "no listening sockets")
        self.assertGreater(min(sockets), 1024, sockets)
        # Several rounds, so that connections are accepted, answered and closed
        # more than once on both listeners.
        for _ in range(3):
            self.assertEqual(get(url + "livez"), (200, "ok\n"))
            status, text = get(url + "metrics")
            self.assertEqual(status, 200)
            self.assertIn("quarantined_tenants 1\n", text)
            status, text = unix_get(d.socket_path, "/status.json")
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(text)["tenants"][0]["name"], "e2e")
        self.ctl("status", d=d, check=0)
        d.stop()

    def test_readyz_says_why(self):
        d = self.start(secret="wrong-secret")
        url = d.health_url()

        def refused():
            status, text = get(url + "readyz")
            return status == 503 and "refused its credentials" in text and text
        text = wait_until("/readyz to report the refused credentials", refused)
        self.assertTrue(text.startswith("not ready: tenant e2e: "), text)
        d.stop()

    def test_quarantinectl(self):
        d = self.start()
        d.wait_for_cycles(1)
        expected = self.sim.expected_conflicts()

        def listed(out):
            rows = list(csv.DictReader(io.StringIO(out, newline="")))
            return {(r["objectType"], r["objectId"], r["attribute"], r["value"].lower())
                    for r in rows}

        # From the daemon: CSV (with a BOM for Excel), JSON and the table.
        code, out, _ = self.ctl("conflicts", "--csv", "--bom", d=d, check=0)
        self.assertTrue(out.startswith("\ufeff"))
        self.assertIn("\r\n", out)
        self.assertEqual(listed(out.lstrip("\ufeff")), expected)
        code, out, _ = self.ctl("conflicts", "--json", d=d, check=0)
        self.assertEqual({(c["objectType"], c["objectId"], c["property"], c["value"].lower())
                          for c in json.loads(out)}, expected)
        code, out, _ = self.ctl("conflicts", d=d, check=0)
        lines = out.splitlines()
        self.assertEqual(len(lines), len(expected) + 1)
        self.assertTrue(all(len(line) <= 100 for line in lines), out)
        self.assertNotIn("\033[", out)
        # Filters.
        code, out, _ = self.ctl("conflicts", "--csv", "-p", "upn", d=d, check=0)
        self.assertEqual(listed(out), {e for e in expected if e[2] == "upn"})
        code, out, _ = self.ctl("conflicts", "--csv", "--type", "group", d=d, check=0)
        self.assertEqual(listed(out), {e for e in expected if e[0] == "group"})
        one = sorted(expected)[0]
        code, out, _ = self.ctl("conflicts", "--csv", "-v", one[3].upper(), d=d, check=0)
        self.assertIn(one, listed(out))
        code, out, _ = self.ctl("conflicts", "--csv", "-n", "2", d=d, check=0)
        self.assertEqual(len(listed(out)), 2)
        code, out, _ = self.ctl("conflicts", "--csv", "--older-than", "36500d", d=d, check=0)
        self.assertEqual(listed(out), set())
        # One conflict in full.
        code, out, _ = self.ctl("show", one[3], d=d, check=0)
        for label in ("Conflict", "Class", "Explanation", "Remediation", "State",
                      "Detected"):
            self.assertIn(label, out)
        # status and the Nagios plugin.
        code, out, _ = self.ctl("status", d=d, check=0)
        self.assertRegex(out, r"\ne2e +\S+ ago +ok ")
        code, out, _ = self.ctl("check", d=d, check=1)
        self.assertRegex(out, r"^QUARANTINED WARNING - %d conflicts \(\d+ stuck\), oldest "
                         r"\S+, 1 tenant \| conflicts=%d;0;;0 stuck=\d+ oldest=\d+s;;\n$"
                         % (len(expected), len(expected)))
        self.ctl("check", "-w", "1000", d=d, check=0)
        code, out, _ = self.ctl("check", "-w", "1000", "-c", "@1:", d=d, check=2)
        self.assertTrue(out.startswith("QUARANTINED CRITICAL - "), out)
        code, out, _ = self.ctl("check", "-w", "x:y", d=d, check=3)
        self.assertTrue(out.startswith("QUARANTINED UNKNOWN - -w: 'x:y'"), out)
        code, out, _ = self.ctl("check", "--tenant", "nope", d=d, check=3)
        # Bad input: one line each.
        code, _, err = self.ctl("conflicts", "-t", "nope", d=d, check=1)
        self.assertEqual(err, "quarantinectl: no tenant 'nope' in the running daemon\n")
        code, _, err = self.ctl("conflicts", "--older-than", "soon", d=d, check=2)
        self.assertIn("--older-than: 'soon' is not a duration", err.splitlines()[0])
        code, _, err = self.ctl("show", "nobody@example.com", d=d, check=1)
        self.assertEqual(len(err.splitlines()), 1)

        # Stopped: the state directory, read-only; status and check say so.
        d.stop()
        before = {n: os.stat(os.path.join(d.state_dir, n)).st_mtime_ns
                  for n in os.listdir(d.state_dir)}
        code, out, _ = self.ctl("conflicts", "--csv", d=d, check=0)
        self.assertEqual(listed(out), expected)
        self.assertEqual(before, {n: os.stat(os.path.join(d.state_dir, n)).st_mtime_ns
                                  for n in os.listdir(d.state_dir)})
        code, _, err = self.ctl("status", d=d, check=3)
        self.assertRegex(err, r"^quarantinectl: quarantined is not running \(no answer on "
                         r"\S+\)\n$")
        code, out, _ = self.ctl("check", d=d, check=2)
        self.assertTrue(out.startswith("QUARANTINED CRITICAL - the daemon is not running"))
        code, _, err = self.ctl("conflicts", "--offline", "--state-dir",
                                os.path.join(self.workdir, "missing"), check=1)
        self.assertRegex(err, r"^quarantinectl: cannot read the state directory \S+: "
                         r"No such file or directory\n$")


def d_alerts(d):
    try:
        with open(d.alerts_path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []
