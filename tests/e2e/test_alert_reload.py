# SPDX-License-Identifier: MIT
"""SIGHUP reloads the alert sinks (quarantined(8), SIGNALS) against a real rsyslog.

- A sink added to the file starts: alerts raised after the reload reach it, while
  the sink that did not change keeps its connection and sends nothing twice.
- A sink removed while its receiver is down is closed: its spool file stays on disk
  with the alerts it held, and one log line names the sink, the count and the file.
- A sink whose format changed is replaced: what its spool held while the receiver
  was down goes out in the old format, what is raised after the reload in the new
  one; every alert arrives once, in order.
- A bad file is refused with FILE:LINE and the running sinks keep delivering.
"""
import json
import os
import re
import signal

from tests.e2e.harness import E2ETestCase, SCENARIOS
from tests.e2e.test_alert_formats import parse_5424
from tests.e2e.test_alert_rsyslog import Rsyslog, free_port


def spool_records(path):
    """The records of a spool file never acknowledged: "<len>:<bytes>\\n" each, or
    "<len>@<seq>@<tenant length>@<tenant>:<bytes>\\n" for a tenant's alert; one
    voided (its ':' made '!') is left out."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos < len(data):
        head = re.compile(rb"(\d+)(?:@\d+@(\d+)@)?").match(data, pos)
        n, pos = int(head.group(1)), head.end()
        if head.group(2) is not None:
            pos += int(head.group(2))  # the tenant's name
        mark = data[pos:pos + 1]
        assert mark in (b":", b"!"), "not a spool record at %d" % pos
        if mark == b":":
            out.append(data[pos + 1:pos + 1 + n])
        assert data[pos + 1 + n:pos + 2 + n] == b"\n", "a torn spool record"
        pos += 2 + n
    return out


def received(rs):
    """(id, format) of each record rsyslog's TCP input wrote, in order; the format is
    told by parsing: RFC 5424 structured data, or a JSON object after the header."""
    out = []
    for line in rs.read_text("tcp").splitlines():
        if not line.startswith("<") or " quarantined " not in line:
            continue
        brace = line.find(" - {")
        if brace >= 0:
            out.append((json.loads(line[brace + 3:])["id"], "json"))
        else:
            out.append((parse_5424(line.encode())["params"]["id"], "rfc5424"))
    return out


class AlertReload(E2ETestCase):

    def setUp(self):
        super().setUp()
        self.rs = Rsyslog(self.workdir)
        self.addCleanup(self.rs.stop)
        self.rs.start()

    def write_conf(self, d, sinks):
        """Writes d's file with the [sink] sections given as (name, lines)."""
        text = self.base
        for name, lines in sinks:
            text += "\n[sink %s]\n%s\n" % (name, "\n".join(lines))
        with open(d.conf_path, "w") as f:
            f.write(text)

    def tcp(self, extra=()):
        return ["type = tcp", "host = 127.0.0.1",
                "port = %d" % self.rs.ports["tcp"]] + list(extra)

    def reload(self, d, pattern=r"reload: configuration reloaded"):
        n = len(d.log_lines(pattern))
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for_log(pattern, n + 1)

    def all_in_rsyslog(self, d, since=0, more_than=0):
        def probe():
            ids = [a["id"] for a in d.alerts()][since:]
            got = received(self.rs)
            if len(ids) > more_than and len(got) >= len(ids):
                return ids, got
            return None
        return d.wait("every alert in rsyslog's tcp file", probe)

    def daemon_with(self, sinks):
        d = self.daemon()
        with open(d.conf_path) as f:
            self.base = f.read()
        self.write_conf(d, sinks)
        d.start()
        d.wait_for_cycles(1)
        return d

    def test_added_sink_starts_and_the_unchanged_one_is_untouched(self):
        d = self.daemon_with([])
        self.assertEqual(received(self.rs), [])
        self.write_conf(d, [("rstcp", self.tcp())])
        self.reload(d)
        d.wait_for_log(r"reload: sink rstcp added")
        # A new sink delivers what is raised from now on.
        start = len(d.alerts())
        self.sim.load(os.path.join(SCENARIOS, "stuck-quarantine.json"))
        ids, got = self.all_in_rsyslog(d, start)
        self.assertEqual([i for i, _ in got], ids)
        # Another sink added; rstcp, unchanged, keeps its connection.
        connected = len(d.log_lines(r"sink rstcp: connected to"))
        path = os.path.join(self.workdir, "second.jsonl")
        self.write_conf(d, [("rstcp", self.tcp()),
                            ("second", ["type = file", "path = %s" % path])])
        self.reload(d)
        before = len(d.alerts())
        self.sim.load(os.path.join(SCENARIOS, "demo.json"))
        ids, got = self.all_in_rsyslog(d, start, before - start)
        self.assertEqual([i for i, _ in got], ids, "rstcp sent an alert twice or lost one")
        self.assertEqual(len(d.log_lines(r"sink rstcp: connected to")), connected)
        self.assertEqual(d.log_lines(r"sink rstcp (changed|removed|added)")[1:], [])

        def second():
            try:
                with open(path) as f:
                    return [json.loads(x)["id"] for x in f.read().splitlines()]
            except FileNotFoundError:
                return []
        d.wait("the new file sink", lambda: second() == ids[before - start:] or None,
               detail=lambda: "; file sink has %s" % second())
        d.stop()

    def test_removed_sink_leaves_its_spool_and_says_so_once(self):
        d = self.daemon_with([("siem", ["type = tcp", "host = 127.0.0.1",
                                         "port = %d" % free_port()])])
        d.wait_for_log(r"sink siem: .*kept in the spool")
        self.write_conf(d, [])
        self.reload(d)
        line = d.wait_for_log(r"reload: sink siem removed")[0]
        m = re.search(r"sink siem removed; (\d+) undelivered alerts? stay in (\S+) ", line)
        self.assertTrue(m, line)
        count, path = int(m.group(1)), m.group(2)
        self.assertGreaterEqual(count, 1)
        self.assertEqual(path, os.path.join(d.state_dir, "spool", "siem.spool"))
        # The records are the alerts siem held (every one: it never delivered).
        ids = [a["id"] for a in d.alerts()]
        d.wait("the spool file closed with %d records" % count,
               lambda: os.path.exists(path) and len(spool_records(path)) == count)
        spooled = [json.loads(r[r.index(b" - {") + 3:])["id"] if b" - {" in r
                   else parse_5424(r)["params"]["id"] for r in spool_records(path)]
        self.assertEqual(spooled, ids[:count])
        d.wait_for_more_cycles(2)
        self.assertEqual(len(d.log_lines(r"sink siem")) -
                         len(d.log_lines(r"sink siem: ")), 1, d.log_tail())
        d.stop()

    def test_changed_format_carries_the_spool_over_in_order(self):
        d = self.daemon_with([("rstcp", self.tcp(["format = rfc5424"]))])
        ids, got = self.all_in_rsyslog(d)
        self.assertEqual([i for i, _ in got], ids)
        # The receiver goes down; new alerts wait in the spool.
        self.rs.stop()
        d.wait_for_log(r"sink rstcp: .*closed the connection")
        before = len(d.alerts())
        self.sim.load(os.path.join(SCENARIOS, "stuck-quarantine.json"))
        d.wait("alerts raised during the outage", lambda: len(d.alerts()) > before)
        d.wait_for_log(r"sink rstcp: .*kept in the spool")
        old_format = len(d.alerts())
        self.write_conf(d, [("rstcp", self.tcp(["format = json"]))])
        self.reload(d)
        d.wait_for_log(r"reload: sink rstcp changed")
        new_format = len(d.alerts())
        self.sim.load(os.path.join(SCENARIOS, "demo.json"))
        d.wait("alerts raised after the reload", lambda: len(d.alerts()) > new_format)
        self.rs.start()
        ids, got = self.all_in_rsyslog(d, 0, new_format)
        self.assertEqual([i for i, _ in got], ids, "an alert lost, repeated or reordered")
        kinds = dict(got)
        self.assertEqual({kinds[i] for i in ids[:old_format]}, {"rfc5424"})
        self.assertEqual({kinds[i] for i in ids[new_format:]}, {"json"})
        d.stop()

    def test_bad_file_is_refused_and_the_sinks_keep_delivering(self):
        d = self.daemon_with([("rstcp", self.tcp())])
        self.all_in_rsyslog(d)
        self.write_conf(d, [("rstcp", self.tcp()), ("bad", ["type = carrier-pigeon"])])
        with open(d.conf_path) as f:
            line = f.read().splitlines().index("type = carrier-pigeon") + 1
        self.reload(d, r"reload: .* rejected; keeping the running configuration")
        self.assertTrue(d.log_lines(r"%s:%d: " % (re.escape(d.conf_path), line)),
                        d.log_tail())
        before = len(d.alerts())
        self.sim.load(os.path.join(SCENARIOS, "stuck-quarantine.json"))
        ids, got = self.all_in_rsyslog(d, 0, before)
        self.assertEqual([i for i, _ in got], ids)
        d.stop()
