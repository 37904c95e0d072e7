"""End-to-end tests: build/quarantined against scripts/graphsim over HTTPS.

Each test asserts what an administrator would notice: the alerts in the JSON lines
file, the daemon's log lines, its exit code, and what reached the tenant (the
simulator's request and write logs)."""

import http.server
import os
import re
import ssl
import threading
import time

try:
    from . import harness
except ImportError:  # discovered with tests/e2e as the top level
    import harness

E2ETestCase = harness.E2ETestCase
detected, cleared, alert_key = harness.detected, harness.cleared, harness.alert_key
released = harness.released
CYCLE_RE = harness.CYCLE_RE
parse_time = harness.parse_time
wait_until = harness.wait_until

PC_FILTER = "onPremisesProvisioningErrors/any(o:o/category eq 'PropertyConflict')"
COLLECTIONS = ("users", "groups", "contacts")


def collection_of(entry):
    return entry["path"].rsplit("/", 1)[-1]


def same_request(a, b):
    return a["path"] == b["path"] and a["query"] == b["query"]


class TrapServer:
    """An HTTPS server standing for a foreign host: it records every request it gets
    and whether it carried an Authorization header."""

    def __init__(self):
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append({"path": self.path,
                             "authorization": "Authorization" in self.headers})
                body = b'{"value":[]}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *args):
                pass

        certs = harness.cert_dir()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class DaemonE2E(E2ETestCase):

    # ----- helpers -------------------------------------------------------------------------
    def start_and_detect(self, **kw):
        """Starts a daemon and waits for its first completed cycle, which must detect
        exactly the simulator's conflicts.  Returns (daemon, expected conflict keys)."""
        expected = self.sim.expected_conflicts()
        d = self.daemon(**kw).start()
        d.wait_for_cycles(1)
        self.assertEqual(d.cycles()[0], (len(expected), len(expected), 0))
        self.assertEqual({alert_key(a) for a in detected(d.alerts())}, expected)
        return d, expected

    def finish(self, d):
        """SIGTERM (exit 0, "stopped cleanly"), and nothing was written to the tenant."""
        d.stop()
        self.assertNoWrites()

    def assertNothingCleared(self, d, detected_count):
        alerts = d.alerts()
        self.assertEqual(cleared(alerts), [], "conflict.cleared without a resolution")
        self.assertEqual(len(detected(alerts)), detected_count, "duplicate detections")

    # ----- 1 -------------------------------------------------------------------------------
    def test_detects_users_groups_contacts_over_pages(self):
        """Every quarantined UPN and address the simulator reports becomes exactly one
        conflict.detected alert; the daemon reads every page, with the filter."""
        # demo.json quarantines one group; a second one makes groups span pages too.
        out = self.sim.tenant("/export", "POST", {
            "objectType": "group", "sourceAnchor": "RTJFR3JvdXAwMDAxAAAAAA==",
            "displayName": "Gus list", "mailEnabled": True, "securityEnabled": False,
            "proxyAddresses": ["SMTP:gus@contoso.com"]})["value"][0]
        self.assertEqual(out["quarantined"], [{"property": "ProxyAddress",
                                               "value": "SMTP:gus@contoso.com"}], out)
        expected = self.sim.expected_conflicts()
        per_kind = {k: len({c[1] for c in expected if c[0] == k})
                    for k in ("user", "group", "contact")}
        self.assertTrue(all(n >= 2 for n in per_kind.values()), per_kind)

        d = self.daemon(page_size=1).start()
        d.wait_for_cycles(1)
        alerts = detected(d.alerts())
        self.assertEqual(len(alerts), len(expected))
        self.assertEqual({alert_key(a) for a in alerts}, expected)
        self.assertEqual({a["objectType"] for a in alerts}, {"user", "group", "contact"})
        self.assertEqual(d.cycles()[0], (len(expected), len(expected), 0))
        for a in alerts:
            self.assertEqual(a["tenant"], "e2e")
            self.assertEqual(a["severity"], "warning")
            self.assertIn(a["value"], a["message"])

        # UPN conflicts: the object carries the placeholder, the alert the real UPN.
        upns = {c[1]: c[3] for c in expected if c[2] == "upn"}
        self.assertGreaterEqual(len(upns), 2)
        sim_upn = {q["id"]: q["userPrincipalName"] for q in self.sim.quarantines()}
        for a in alerts:
            if a["property"] != "upn":
                continue
            self.assertTrue(a["placeholder"], a)
            self.assertEqual(a["originalValue"].lower(), upns[a["objectId"]], a)
            self.assertEqual(a["userPrincipalName"], sim_upn[a["objectId"]], a)
            self.assertTrue(a["userPrincipalName"].endswith("@contoso.onmicrosoft.com"), a)
            self.assertIn("placeholder " + a["userPrincipalName"], a["message"])
        for a in alerts:
            if a["property"] == "proxy":
                self.assertFalse(a["placeholder"], a)
        d.stop()

        # Paging: every collection took more than one request, the later ones by
        # nextLink ($skiptoken) with the same query; every request used the filter.
        # (The holder lookups go through $batch: tests/e2e/test_holder.py.)
        reqs = [e for e in self.sim.graph_requests() if e["path"] != "/v1.0/$batch"]
        self.assertTrue(reqs)
        for entry in reqs:
            self.assertEqual(entry["method"], "GET")
            self.assertEqual(entry["query"].get("$filter"), PC_FILTER, entry)
            self.assertEqual(entry["query"].get("$top"), "1", entry)
            self.assertTrue(entry["hasAuthorization"], entry)
            self.assertEqual(entry["status"], 200, entry)
        for coll in COLLECTIONS:
            mine = [e for e in reqs if collection_of(e) == coll]
            starts = [i for i, e in enumerate(mine) if "$skiptoken" not in e["query"]]
            self.assertEqual(starts[0], 0, coll)
            # The first cycle (complete: it was logged) read one page per
            # quarantined object at $top=1, the later ones by nextLink.
            cycle1 = mine[:starts[1]] if len(starts) > 1 else mine
            later = cycle1[1:]
            self.assertGreaterEqual(len(later), per_kind[coll[:-1]] - 1, coll)
            for e in later:
                self.assertIn("$skiptoken", e["query"])
                q = dict(e["query"])
                del q["$skiptoken"]
                self.assertEqual(q, cycle1[0]["query"], coll)
        self.assertNoWrites()

    # ----- 2 -------------------------------------------------------------------------------
    def test_released_alert_for_the_resolved_conflict_only(self):
        """The admin deletes the object holding an address; after the service's sweep
        releases it, one conflict.released alert (not cleared: the contact has its
        address back) names exactly that conflict."""
        d, expected = self.start_and_detect()
        holder = self.sim.tenant("/objects/eli@contoso.com")
        self.assertEqual(holder["_sim"]["objectType"], "user")
        target = [c for c in expected if c[0] == "contact" and c[3] == "eli@contoso.com"]
        self.assertEqual(len(target), 1, expected)
        self.sim.tenant("/objects/%s" % holder["id"], "DELETE")
        self.sim.tenant("/sweep", "POST")
        self.assertEqual(self.sim.expected_conflicts(), expected - set(target))

        d.wait_for_alerts(lambda a: released(a))
        # The releasing cycle, and one more: nothing else may follow.
        d.wait_for_cycle((len(expected) - 1, 0, 1), then=1)
        alerts = d.alerts()
        gone = released(alerts)
        self.assertEqual(cleared(alerts), [])
        self.assertEqual([alert_key(a) for a in gone], target)
        self.assertEqual(gone[0]["displayName"], "Eli (partner)")
        self.assertGreaterEqual(gone[0]["timeToReleaseSeconds"], 0)
        self.assertEqual(len(detected(alerts)), len(expected))
        cycles = d.cycles()
        self.assertIn((len(expected) - 1, 0, 1), cycles)
        self.assertEqual(cycles[-1], (len(expected) - 1, 0, 0))
        self.finish(d)

    # ----- 3 -------------------------------------------------------------------------------
    def test_restart_does_not_repeat_alerts(self):
        d, expected = self.start_and_detect()
        d.stop()
        before = d.alert_lines()
        self.assertEqual(len(before), len(expected))

        d.start()
        d.wait_for_log(r"tenant e2e: loaded %d conflicts from saved state" % len(expected))
        cycles = d.wait_for_cycles(2)
        self.assertEqual(cycles[:2], [(len(expected), 0, 0)] * 2)
        self.assertEqual(d.alert_lines(), before, "alerts appended after a restart")
        self.finish(d)

    def test_conflict_released_while_stopped_is_reported_after_restart(self):
        d, expected = self.start_and_detect()
        d.stop()
        holder = self.sim.tenant("/objects/eli@contoso.com")
        self.sim.tenant("/objects/%s" % holder["id"], "DELETE")
        self.sim.tenant("/sweep", "POST")
        d.start()
        cycles = d.wait_for_cycles(2)
        self.assertEqual(cycles[:2], [(len(expected) - 1, 0, 1), (len(expected) - 1, 0, 0)])
        alerts = d.alerts()
        self.assertEqual([(a["objectType"], a["value"]) for a in released(alerts)],
                         [("contact", "eli@contoso.com")])
        self.assertEqual(cleared(alerts), [])
        self.assertEqual(len(detected(alerts)), len(expected))
        self.finish(d)

    # ----- 4 -------------------------------------------------------------------------------
    def test_filter_refused_falls_back_to_scanning(self):
        """A tenant that refuses the provisioning-error $filter: the daemon says so
        once per collection, scans with $select, and finds the same conflicts."""
        self.sim.settings(provisioningErrorFilter="unsupported")
        expected = self.sim.expected_conflicts()
        d = self.daemon(page_size=5).start()
        d.wait_for_cycles(3)
        self.assertEqual(d.cycles()[:3], [(len(expected), len(expected), 0)]
                         + [(len(expected), 0, 0)] * 2)
        self.assertEqual({alert_key(a) for a in detected(d.alerts())}, expected)
        self.assertEqual(len(d.alerts()), len(expected))

        warnings = d.log_lines(r"refused the provisioning-error \$filter")
        self.assertEqual(len(warnings), 3, warnings)
        for coll in COLLECTIONS:
            self.assertEqual(len([w for w in warnings if " on %s " % coll in w]), 1, warnings)
        for w in warnings:
            self.assertIn("tenant e2e", w)
            self.assertIn("Request_UnsupportedQuery", w)
            self.assertIn("scanning", w)
        d.stop()

        reqs = self.sim.graph_requests()
        refused = [e for e in reqs if "$filter" in e["query"]]
        self.assertEqual(sorted(collection_of(e) for e in refused), sorted(COLLECTIONS))
        for e in refused:
            self.assertEqual(e["status"], 400, e)
        for coll in COLLECTIONS:
            scans = [e for e in reqs if collection_of(e) == coll and "$filter" not in e["query"]]
            self.assertGreater(len(scans), 3, coll)  # 3 cycles, several pages each
            for e in scans:
                self.assertEqual(e["status"], 200, e)
                self.assertIn("onPremisesProvisioningErrors", e["query"]["$select"])
        self.assertNoWrites()

    # ----- 5 -------------------------------------------------------------------------------
    def test_throttling_429_and_503_honour_retry_after(self):
        self.sim.add_faults(
            {"kind": "429", "count": 1, "path": "$skiptoken", "retryAfter": "1.5"},
            {"kind": "503", "count": 1, "path": "/v1.0/contacts", "retryAfter": "1"})
        d, expected = self.start_and_detect()
        self.assertEqual(self.sim.faults(), [])
        self.assertEqual(len(d.log_lines(r"throttled \(429, Tenant_Application/ReadWrite\); "
                                         r"attempt 2 of \d+ in 1\.5 s")), 1,
                         d.log_tail())
        self.assertEqual(
            len(d.log_lines(r"service unavailable \(503\); attempt 2 of \d+ in 1\.0 s")), 1)
        self.assertEqual(d.log_lines("cycle failed"), [])

        reqs = self.sim.graph_requests()
        for kind, wait in (("429", 1.5), ("503", 1.0)):
            hit = [e for e in reqs if e.get("fault") == kind]
            self.assertEqual(len(hit), 1, kind)
            self.assertEqual(hit[0]["status"], int(kind))
            retry = [e for e in reqs if e["seq"] > hit[0]["seq"] and same_request(e, hit[0])]
            self.assertTrue(retry, "no retry of the %s request" % kind)
            self.assertEqual(retry[0]["status"], 200)
            gap = (parse_time(retry[0]["time"]) - parse_time(hit[0]["time"])).total_seconds()
            self.assertGreaterEqual(gap, wait - 0.1, "%s retried after %.3f s" % (kind, gap))
            self.assertLess(gap, wait + 3.0, "%s retried after %.3f s" % (kind, gap))
        self.finish(d)

    def test_429_holds_back_every_request_of_the_tenant(self):
        """Graph throttles per application and tenant: after a 429 with Retry-After on
        one collection, the other listings wait too instead of running into the
        same limit."""
        # The first users page is slow, so the users listing is still going on
        # when groups is throttled: its next page must wait for the gate.
        self.sim.add_faults({"kind": "429", "count": 1, "path": "/v1.0/groups",
                             "retryAfter": "2"},
                            {"kind": "delay", "count": 1, "path": "/v1.0/users",
                             "seconds": 1})
        d, expected = self.start_and_detect()
        self.assertEqual(d.log_lines("cycle failed"), [])
        reqs = self.sim.graph_requests()
        hit = [e for e in reqs if e.get("fault") == "429"]
        self.assertEqual(len(hit), 1)
        t429 = parse_time(hit[0]["time"])
        # (The log's time is when the answer went out: the slow page itself,
        # sent before the 429, is logged a second later.)
        during = [e for e in reqs if e["seq"] > hit[0]["seq"] and e.get("fault") != "delay"
                  and 0.3 < (parse_time(e["time"]) - t429).total_seconds() < 1.8]
        self.assertEqual(during, [], "requests sent while the tenant was throttled")
        later = [e for e in reqs if e["seq"] > hit[0]["seq"]]
        self.assertGreater(len(later), 3, "the listings did not go on after the wait")
        self.finish(d)

    def test_token_service_503_honours_retry_after(self):
        """The token endpoint answers 503 with Retry-After twice: the daemon waits as
        asked before each new token request, and the cycle still completes."""
        self.sim.add_faults({"kind": "503", "count": 2, "path": "/oauth2/v2.0/token",
                             "retryAfter": "2", "includeToken": True})
        d, expected = self.start_and_detect()
        self.assertEqual(d.log_lines("cycle failed"), [])
        tokens = [e for e in self.sim.requests() if e.get("kind") == "token"]
        self.assertEqual([t["status"] for t in tokens[:3]], [503, 503, 200])
        for a, b in zip(tokens, tokens[1:3]):
            gap = (parse_time(b["time"]) - parse_time(a["time"])).total_seconds()
            self.assertGreaterEqual(gap, 1.9, "token retried after %.3f s" % gap)
        self.finish(d)

    def test_token_service_that_keeps_failing_fails_the_cycle(self):
        """A token endpoint that keeps answering 503 is asked a bounded number of times:
        the cycle fails with the token error instead of retrying forever."""
        self.sim.add_faults({"kind": "503", "count": 100, "path": "/oauth2/v2.0/token",
                             "retryAfter": "1", "includeToken": True})
        d = self.daemon().start()
        line = d.wait_for_log(r"cycle failed")[0]
        self.assertIn("tenant e2e: cycle failed on ", line)
        self.assertIn("HTTP 503", line)
        d.stop()
        tokens = [e for e in self.sim.requests() if e.get("kind") == "token"]
        # Six attempts per request, three collections sharing each token request.
        self.assertLessEqual(len(tokens), 7, len(tokens))
        self.assertEqual(self.sim.graph_requests(), [], "Graph called without a token")
        self.assertEqual(d.alerts(), [])
        self.assertNoWrites()

    # ----- 6 -------------------------------------------------------------------------------
    def test_token_expiry_mid_paging_renews_and_completes(self):
        """The access token is revoked while a later page is in flight: the page gets
        401, the daemon renews the token once, and the cycle completes unchanged."""
        d, expected = self.start_and_detect()
        self.sim.add_faults({"kind": "delay", "seconds": 2.0, "count": 1, "path": "$skiptoken"})
        wait_until("the delayed page request", lambda: self.sim.faults() == [])
        done = len(d.cycles())  # the cycle in flight cannot finish before the delay
        self.sim.expire_tokens()
        d.wait_for_log(r"graph: tenant e2e: 401 InvalidAuthenticationToken; renewing the token")
        cycles = d.wait_for_cycles(done + 1)
        self.assertEqual(cycles[done], (len(expected), 0, 0))
        self.assertEqual(d.log_lines("cycle failed"), [])
        self.assertNothingCleared(d, len(expected))

        reqs = self.sim.requests()
        delayed = [e for e in reqs if e.get("fault") == "delay"]
        self.assertEqual(len(delayed), 1)
        self.assertEqual(delayed[0]["status"], 401)
        retry = [e for e in reqs if e["seq"] > delayed[0]["seq"] and e.get("kind") == "graph"
                 and same_request(e, delayed[0])]
        self.assertTrue(retry and retry[0]["status"] == 200, retry)
        tokens = [e for e in reqs if e.get("kind") == "token"]
        self.assertGreaterEqual(len(tokens), 2)
        self.assertTrue(any(delayed[0]["seq"] < t["seq"] < retry[0]["seq"] for t in tokens),
                        "no new token between the 401 and the retry")
        self.finish(d)

    # ----- 7 -------------------------------------------------------------------------------
    def test_wrong_secret_is_reported_each_cycle_without_crashing(self):
        d = self.daemon(secret="not-the-secret").start()
        failed = d.wait_for_log(r"cycle failed", count=3)
        for line in failed:
            self.assertIn("tenant e2e: cycle failed on users: invalid_client AADSTS7000215: ",
                          line)
        self.assertTrue(d.running())
        d.stop()
        failed = d.log_lines(r"cycle failed")
        tokens = [e for e in self.sim.requests() if e.get("kind") == "token"]
        # One line per failed cycle: each cycle asks for one token (the last may have
        # been cut short by SIGTERM).
        self.assertIn(len(failed), (len(tokens), len(tokens) - 1), (len(tokens), failed))
        for t in tokens:
            self.assertEqual(t["status"], 401)
        self.assertEqual(self.sim.graph_requests(), [], "Graph called without a token")
        # Three failed cycles (failing_cycles) make one tenant.failing, and nothing else.
        alerts = d.alerts()
        self.assertEqual([a["event"] for a in alerts], ["tenant.failing"], alerts)
        self.assertEqual(alerts[0]["code"], "AADSTS7000215")
        self.assertEqual(d.cycles(), [])
        self.assertNoWrites()

    def test_unsafe_secret_file_mode_refuses_to_start(self):
        d = self.daemon(secret_mode=0o644)
        rc, log = d.run_to_exit()
        self.assertEqual(rc, 1, log)
        line = [l for l in log.splitlines() if d.secret_path in l]
        self.assertTrue(line, log)
        self.assertIn("mode 0644 is too open", line[0])
        self.assertIn("tenant e2e", line[0])
        self.assertNotIn("stopped cleanly", log)
        self.assertEqual(self.sim.requests(), [])
        self.assertEqual(d.alerts(), [])

    def test_one_tenant_failing_does_not_stop_the_other(self):
        """Two tenants in one daemon: fabrikam's wrong secret is reported for fabrikam
        only, contoso is polled and alerted as usual."""
        self.sim.load(os.path.join(harness.SCENARIOS, "multi-tenant.json"))
        fabrikam = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
        expected = self.sim.expected_conflicts()
        self.assertTrue(expected)
        d = self.daemon(name="contoso", extra_tenants=[
            ("fabrikam", fabrikam, "4d5e6f70-8192-4a0b-9ecf-3a4b5c6d7e8f", "wrong")]).start()
        d.wait_for_cycles(2)
        failed = d.wait_for_log(r"cycle failed", count=2)
        for line in failed:
            self.assertIn("tenant fabrikam: cycle failed on users: invalid_client "
                          "AADSTS7000215: ", line)
        alerts = d.alerts()
        # fabrikam's only alert, once its cycles have failed failing_cycles
        # times (3), is tenant.failing with the token service's code.
        theirs = [a for a in alerts if a["tenant"] == "fabrikam"]
        self.assertEqual([a["event"] for a in theirs],
                         ["tenant.failing"] if theirs else [], theirs)
        self.assertTrue(all(a["code"] == "AADSTS7000215" for a in theirs), theirs)
        self.assertEqual({a["tenant"] for a in alerts if a not in theirs}, {"contoso"})
        self.assertEqual({alert_key(a) for a in detected(alerts)}, expected)
        self.assertEqual(d.cycles("fabrikam"), [])
        self.finish(d)

    def test_sigterm_while_requests_hang_stops_promptly(self):
        d, expected = self.start_and_detect()
        self.sim.add_faults({"kind": "hang", "seconds": 30, "count": 3, "path": "/v1.0/"})
        # Applied: the simulator holds the daemon's request open from now on.
        wait_until("a hanging request", lambda: any(f["applied"] for f in self.sim.faults())
                   or not self.sim.faults())
        started = time.monotonic()
        self.finish(d)
        # The hanging requests would hold it 30 s; a loaded machine needs a few.
        self.assertLess(time.monotonic() - started, 15.0)
        self.assertNothingCleared(d, len(expected))

    # ----- 8 -------------------------------------------------------------------------------
    def test_monitor_only_never_writes(self):
        """Detection, a release and several cycles: not one write reaches the tenant."""
        d, expected = self.start_and_detect()
        holder = self.sim.tenant("/objects/eli@contoso.com")
        self.sim.tenant("/objects/%s" % holder["id"], "DELETE")
        self.sim.tenant("/sweep", "POST")
        d.wait_for_alerts(lambda a: released(a))
        d.wait_for_cycle((len(expected) - 1, 0, 1), then=1)
        d.stop()
        self.assertEqual(self.sim.writes(), [])
        # Holder lookups are POSTs to $batch, but every request inside is a GET.
        methods = {e["method"] for e in self.sim.graph_requests()
                   if e["path"] != "/v1.0/$batch"}
        self.assertEqual(methods, {"GET"})
        self.assertTrue(self.sim.batch_posts())
        self.assertEqual({e["method"] for e in self.sim.batch_items()}, {"GET"})
        tokens = {e["method"] for e in self.sim.requests() if e.get("kind") == "token"}
        self.assertEqual(tokens, {"POST"})

    # ----- 9 -------------------------------------------------------------------------------
    def test_malformed_and_truncated_pages_are_retried(self):
        d, expected = self.start_and_detect()
        self.sim.add_faults({"kind": "malformed", "count": 1, "path": "$skiptoken"},
                            {"kind": "truncated", "count": 1, "path": "/v1.0/contacts"})
        wait_until("both faults applied", lambda: self.sim.faults() == [])
        done = len(d.cycles())
        cycles = d.wait_for_cycles(done + 1)
        self.assertEqual(cycles[done], (len(expected), 0, 0))
        self.assertEqual(len(d.log_lines(r"malformed JSON; attempt 2 of")), 1, d.log_tail())
        self.assertEqual(len(d.log_lines(r"/v1\.0/contacts\?.*; attempt 2 of")), 1,
                         d.log_tail())
        self.assertEqual(d.log_lines("cycle failed"), [])
        self.assertNothingCleared(d, len(expected))
        reqs = self.sim.graph_requests()
        for kind in ("malformed", "truncated"):
            hit = [e for e in reqs if e.get("fault") == kind]
            self.assertEqual(len(hit), 1, kind)
            retry = [e for e in reqs if e["seq"] > hit[0]["seq"] and same_request(e, hit[0])]
            self.assertTrue(retry and retry[0]["status"] == 200, (kind, retry))
        self.finish(d)

    def test_foreign_nextlink_fails_the_cycle_without_clearing_or_leaking(self):
        """A page whose nextLink leaves graph_url: the token is not sent there, the
        cycle fails (the users seen so far are incomplete), nothing is cleared, and the
        next cycle works again."""
        trap = TrapServer()
        self.addCleanup(trap.close)
        d, expected = self.start_and_detect()
        self.sim.add_faults({"kind": "foreign-nextlink", "count": 1, "path": "/v1.0/users",
                             "host": trap.url})
        wait_until("a failed cycle or a request to the foreign host",
                   lambda: trap.seen or d.log_lines(r"cycle failed"))
        self.assertEqual(trap.seen, [], "the daemon followed a foreign nextLink")
        failed = d.log_lines(r"cycle failed")
        self.assertEqual(len(failed), 1)
        self.assertIn("tenant e2e: cycle failed on users: ForeignNextLink: ", failed[0])
        self.assertIn("conflicts unchanged", failed[0])
        works = d.wait_for_log(r"tenant e2e: polling works again after 1 failed cycle")[0]
        # That line comes before the state is saved and the cycle's own line:
        # wait for the cycle it announces, the first one logged after it.
        log = d.log()
        before = len(re.findall(CYCLE_RE % "e2e", log[:log.index(works)]))
        cycles = d.wait_for_cycles(before + 1)
        self.assertEqual(cycles[before], (len(expected), 0, 0))
        self.assertNothingCleared(d, len(expected))
        self.assertEqual(trap.seen, [], "the daemon followed a foreign nextLink")

        reqs = self.sim.graph_requests()
        hit = [e for e in reqs if e.get("fault") == "foreign-nextlink"]
        self.assertEqual(len(hit), 1)
        self.finish(d)
        self.assertEqual(trap.seen, [])


if __name__ == "__main__":
    import unittest
    unittest.main()
