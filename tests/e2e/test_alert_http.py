# SPDX-License-Identifier: MIT
"""Webhooks and the Logs Ingestion API against a local HTTPS receiver.

The receiver (Python's http.server over ssl, the test CA's certificate) plays
a generic webhook, a Slack incoming webhook, a Teams Workflows trigger, and
Microsoft Entra's token endpoint plus an Azure Monitor data collection
endpoint.  It checks the request shape the Logs Ingestion API documents
(https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview):
POST /dataCollectionRules/{immutable id}/streams/{stream}?api-version=2023-01-01,
a bearer token for https://monitor.azure.com/.default, a JSON array body; it
answers 204.  Some first answers are 429 or 503 with Retry-After: every alert
must still arrive exactly once, in order.
"""
import http.server
import json
import os
import ssl
import threading
import time
import urllib.parse

from tests.e2e.harness import READER_ID, E2ETestCase, cert_dir, wait_until

DCR = "dcr-00112233445566778899aabbccddeeff"
STREAM = "Custom-Quarantined_CL"
MONITOR_TOKEN = "monitor-token-not-a-secret"


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []     # (path, headers, body, time) of every accepted POST
        self.refusals = {}  # path prefix -> [status, ...] still to answer first
        self.problems = []
        self.token_forms = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.handle(self, body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(cert_dir(), "server.pem"),
                            os.path.join(cert_dir(), "server.key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.base = "https://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handle(self, h, body):
        url = urllib.parse.urlsplit(h.path)
        if url.path.endswith("/oauth2/v2.0/token"):
            form = urllib.parse.parse_qs(body.decode())
            with self.lock:
                self.token_forms.append(form)
            if form.get("scope") != ["https://monitor.azure.com/.default"]:
                h.reply(400, b'{"error":"invalid_scope"}')
                return
            h.reply(200, json.dumps({"token_type": "Bearer", "expires_in": 3600,
                                     "access_token": MONITOR_TOKEN}).encode(),
                    [("Content-Type", "application/json")])
            return
        with self.lock:
            for prefix, statuses in self.refusals.items():
                if url.path.startswith(prefix) and statuses:
                    status = statuses.pop(0)
                    break
            else:
                status = None
        if status:
            h.reply(status, b"busy", [("Retry-After", "1")])
            return
        if url.path.startswith("/dataCollectionRules/"):
            problem = self.check_ingestion(h, url, body)
            if problem:
                with self.lock:
                    self.problems.append(problem)
                h.reply(400, problem.encode())
                return
        with self.lock:
            self.posts.append((h.path, dict(h.headers), body, time.monotonic()))
        h.reply(204 if url.path.startswith("/dataCollectionRules/") else 200)

    @staticmethod
    def check_ingestion(h, url, body):
        if url.path != "/dataCollectionRules/%s/streams/%s" % (DCR, STREAM):
            return "path %s" % url.path
        if urllib.parse.parse_qs(url.query) != {"api-version": ["2023-01-01"]}:
            return "query %s" % url.query
        if h.headers.get("Authorization") != "Bearer " + MONITOR_TOKEN:
            return "authorization"
        if not h.headers.get("Content-Type", "").startswith("application/json"):
            return "content type"
        if len(body) > 1000 * 1000:
            return "over 1 MB"
        records = json.loads(body)
        if not isinstance(records, list) or not records:
            return "not a JSON array"
        for r in records:
            if not isinstance(r, dict) or "TimeGenerated" not in r:
                return "a record without TimeGenerated"
        return None

    def bodies(self, prefix):
        with self.lock:
            return [json.loads(b) for p, _, b, _ in self.posts if p.startswith(prefix)]

    def times(self, prefix):
        with self.lock:
            return [t for p, _, _, t in self.posts if p.startswith(prefix)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class AlertHTTP(E2ETestCase):

    def test_webhooks_and_logs_ingestion(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        rx.refusals = {"/slack/": [429], "/dataCollectionRules/": [503]}
        ca = os.path.join(cert_dir(), "ca.pem")
        d = self.daemon()
        with open(d.conf_path, "a") as f:
            f.write("\n[sink hook]\ntype = webhook\nurl = %s/generic?sig=hook-secret\n"
                    "ca_file = %s\nrate_limit = 6000\n" % (rx.base, ca))
            f.write("\n[sink slack]\ntype = webhook\nformat = slack\n"
                    "url = %s/slack/T000/B000/slack-secret\nca_file = %s\nrate_limit = 120\n"
                    % (rx.base, ca))
            f.write("\n[sink teams]\ntype = webhook\nformat = teams\n"
                    "url = %s/teams/workflows?api-version=2016-06-01&sig=teams-secret\n"
                    "ca_file = %s\nrate_limit = 6000\n" % (rx.base, ca))
            f.write("\n[sink sentinel]\ntype = sentinel\ntenant = %s\nlogin_url = %s\n"
                    "dce_url = %s\ndcr_id = %s\nstream = %s\nca_file = %s\n"
                    % (d.name, rx.base, rx.base, DCR, STREAM, ca))
        d.start()
        d.wait_for_cycles(1)
        ids = [a["id"] for a in d.alerts()]
        self.assertGreater(len(ids), 2)

        def arrived(prefix, pick):
            return wait_until("%d alerts at %s" % (len(ids), prefix), lambda: (
                [pick(b) for b in rx.bodies(prefix)]
                if len(rx.bodies(prefix)) >= len(ids) else None))

        self.assertEqual(arrived("/generic", lambda b: b["alert"]["id"])[:len(ids)], ids)
        sentinel = wait_until("every alert in the workspace", lambda: (
            [r["id"] for b in rx.bodies("/dataCollectionRules/") for r in b]
            if sum(len(b) for b in rx.bodies("/dataCollectionRules/")) >= len(ids)
            else None))
        self.assertEqual(sentinel[:len(ids)], ids)
        self.assertEqual(len(set(sentinel)), len(sentinel))
        self.assertEqual(rx.problems, [])
        self.assertEqual(rx.token_forms[0]["client_id"], [READER_ID])
        self.assertEqual(rx.token_forms[0]["grant_type"], ["client_credentials"])

        cards = arrived("/teams/", lambda b: b)
        att = cards[0]["attachments"][0]
        self.assertEqual(att["contentType"], "application/vnd.microsoft.card.adaptive")
        self.assertEqual(att["content"]["type"], "AdaptiveCard")

        slack = arrived("/slack/", lambda b: b["text"])
        self.assertEqual(len(slack), len(ids), "an alert came twice after the 429")
        gaps = [b - a for a, b in zip(rx.times("/slack/"), rx.times("/slack/")[1:])]
        self.assertTrue(all(g >= 0.45 for g in gaps), gaps)  # rate_limit = 120/min

        d.wait_for_log(r"sink slack: POST https://127\.0\.0\.1:\d+: HTTP 429")
        log = d.log()
        for secret in ("hook-secret", "slack-secret", "teams-secret", MONITOR_TOKEN):
            self.assertNotIn(secret, log)
        d.stop()
