# SPDX-License-Identifier: MIT
"""Remote syslog into a real rsyslog (Debian's rsyslog and rsyslog-openssl).

The test starts rsyslogd in the foreground with its own configuration:
RFC 5424 over UDP, TCP (octet counting) and TLS (the ossl network stream
driver with the test CA's server certificate), each input writing the raw
messages to its own file, which the test reads back and parses itself.

- Every alert reaches each receiver once, in the order of the JSON lines file.
- Outage: rsyslog is stopped, the directory changes (new alerts are raised and
  spooled), rsyslog starts again on the same ports: 0 lost, 0 duplicated, order
  kept.
- SIGKILL: the daemon is killed while it retries a receiver that is down and
  again as delivery resumes; each restart delivers what its spool held: 0 lost,
  0 duplicated, order kept.
"""
import os
import signal
import socket
import subprocess
import time

from tests.e2e.harness import E2ETestCase, SCENARIOS, cert_dir, kill_process, wait_until
from tests.e2e.test_alert_formats import parse_5424


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rsyslog:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "rsyslog")
        os.makedirs(self.dir, exist_ok=True)
        self.ports = {"tcp": free_port(), "tls": free_port(),
                      "udp": free_port(socket.SOCK_DGRAM)}
        self.files = {k: os.path.join(self.dir, "%s.log" % k) for k in self.ports}
        certs = cert_dir()
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        with open(self.conf, "w") as f:
            f.write("""
global(workDirectory="{d}"
       defaultNetstreamDriverCAFile="{c}/ca.pem"
       defaultNetstreamDriverCertFile="{c}/server.pem"
       defaultNetstreamDriverKeyFile="{c}/server.key"
       maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\\n")
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="tls"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
ruleset(name="udp") {{ action(type="omfile" file="{d}/udp.log" template="raw") }}
ruleset(name="tcp") {{ action(type="omfile" file="{d}/tcp.log" template="raw") }}
ruleset(name="tls") {{ action(type="omfile" file="{d}/tls.log" template="raw") }}
""".format(d=self.dir, c=certs, **self.ports))
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "rsyslogd.out"), "ab")
        self.proc = subprocess.Popen(
            ["rsyslogd", "-n", "-f", self.conf, "-i", os.path.join(self.dir, "rsyslogd.pid")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("rsyslogd exited: %s" % self.output())
            for k in ("tcp", "tls"):
                try:
                    socket.create_connection(("127.0.0.1", self.ports[k]), 1).close()
                except OSError:
                    return False
            return True
        wait_until("rsyslogd listening", listening)
        # UDP cannot be probed by connecting: send until a probe is written.
        probe = "<14>1 - - probe - - - probe-%d" % time.monotonic_ns()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def udp_ready():
            s.sendto(probe.encode(), ("127.0.0.1", self.ports["udp"]))
            return probe in self.read_text("udp")
        wait_until("rsyslogd reading UDP", udp_ready, interval=0.2)
        s.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                kill_process(self.proc)
        if self.proc:
            self.log.close()

    def output(self):
        with open(os.path.join(self.dir, "rsyslogd.out"), errors="replace") as f:
            return f.read()

    def read_text(self, kind):
        try:
            with open(self.files[kind], errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def ids(self, kind):
        """The alert ids rsyslog wrote, in order, parsed from RFC 5424."""
        out = []
        for line in self.read_text(kind).splitlines():
            if line.startswith("<") and " quarantined " in line:
                out.append(parse_5424(line.encode())["params"]["id"])
        return out


class AlertRsyslog(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.rs = Rsyslog(self.workdir)
        self.addCleanup(self.rs.stop)
        self.rs.start()

    def sinks(self, d, kinds):
        with open(d.conf_path, "a") as f:
            for k in kinds:
                f.write("\n[sink rs%s]\ntype = %s\nhost = 127.0.0.1\nport = %d\n"
                        % (k, k, self.rs.ports[k]))
                if k == "tls":
                    f.write("ca_file = %s\n" % os.path.join(cert_dir(), "ca.pem"))

    def wait_all(self, d, kind, count=None):
        def probe():
            ids = [a["id"] for a in d.alerts()]
            got = self.rs.ids(kind)
            if len(got) >= len(ids) and (count is None or len(ids) >= count):
                return ids, got
            return None
        return wait_until("every alert in rsyslog's %s file" % kind, probe)

    def test_udp_tcp_tls_each_alert_once_in_order(self):
        d = self.daemon()
        self.sinks(d, ("udp", "tcp", "tls"))
        d.start()
        d.wait_for_cycles(1)
        for kind in ("tcp", "tls", "udp"):
            ids, got = self.wait_all(d, kind)
            self.assertEqual(got, ids, kind)
        d.stop()

    def test_outage_loses_and_repeats_nothing(self):
        d = self.daemon()
        self.sinks(d, ("tcp", "tls"))
        d.start()
        d.wait_for_cycles(1)
        before = len(d.alerts())
        for kind in ("tcp", "tls"):
            self.wait_all(d, kind)
        self.rs.stop()
        d.wait_for_log(r"sink rstcp: .*closed the connection")
        d.wait_for_log(r"sink rstls: .*closed the (connection|session)")
        # The directory changes while the receiver is down: new alerts.
        self.sim.load(os.path.join(SCENARIOS, "stuck-quarantine.json"))
        wait_until("alerts raised during the outage", lambda: len(d.alerts()) > before)
        d.wait_for_log(r"sink rstcp: .*kept in the spool")
        self.rs.start()
        for kind in ("tcp", "tls"):
            ids, got = self.wait_all(d, kind, before + 1)
            self.assertEqual(got, ids, kind)
        d.wait_for_log(r"sink rstcp: delivering again")
        d.stop()

    def test_sigkill_during_delivery_loses_and_repeats_nothing(self):
        d = self.daemon()
        self.sinks(d, ("tcp",))
        d.start()
        d.wait_for_cycles(1)
        self.wait_all(d, "tcp")
        for scenario, run in (("stuck-quarantine.json", 2), ("demo.json", 3)):
            before = len(d.alerts())
            self.rs.stop()
            d.wait_for_log(r"sink rstcp: .*closed the connection")
            # New alerts while the receiver is down: spooled, retried.
            self.sim.load(os.path.join(SCENARIOS, scenario))
            wait_until("alerts raised during the outage",
                       lambda: len(d.alerts()) > before)
            d.wait_for_log(r"sink rstcp: .*kept in the spool")
            if run == 2:
                d.kill()  # SIGKILL while it retries
                self.rs.start()
            else:
                connected = len(d.log_lines(r"sink rstcp: connected to"))
                self.rs.start()
                # SIGKILL as delivery resumes (before or while it sends).
                d.wait_for_log(r"sink rstcp: connected to", connected + 1)
                d.kill()
            d.start()
            d.wait_for_log(r"tenant e2e: \d+ conflicts?")
            ids, got = self.wait_all(d, "tcp", before + 1)
            self.assertEqual(len(set(ids)), len(ids), "an alert written twice")
            self.assertEqual(got, ids, "run %d" % run)
        d.stop()
