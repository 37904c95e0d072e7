"""Resource-unit throttling, injected faults, and the request log."""

import http.client
import json
import socket
import time
import unittest

from simtest import CONTOSO, READER, SimTestCase


class ThrottleTest(SimTestCase):
    scenario = "demo.json"

    def test_resource_unit_costs(self):
        token = self.token()
        cost = lambda path: self.graph("GET", path, token).header("x-ms-resource-unit")
        self.assertEqual(cost("/users"), "2")
        self.assertEqual(cost("/users?$select=id"), "1")
        self.assertEqual(cost("/users?$select=id&$top=5"), "1")
        self.assertEqual(cost("/users?$top=5"), "1")
        self.assertEqual(cost("/groups"), "1")

    def test_size_from_user_count(self):
        self.assertEqual(self.control("GET", "tenants/" + CONTOSO)["size"], "S")

    def test_bucket_runs_out_and_429_carries_headers(self):
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"throttleResourceUnitQuota": 10})
        token = self.token()
        statuses, percent = [], None
        for _ in range(30):
            reply = self.graph("GET", "/users", token)
            statuses.append(reply.status)
            percent = reply.header("x-ms-throttle-limit-percentage") or percent
            if reply.status == 429:
                break
        self.assertEqual(statuses[-1], 429)
        self.assertIsNotNone(percent)
        self.assertGreaterEqual(float(percent), 0.8)
        err = self.assertGraphError(reply, 429, "TooManyRequests")
        self.assertEqual(err["innerError"]["status"], 429)
        self.assertRegex(reply.header("Retry-After"), r"^\d+$")
        # throttling-limits: the Limit part is Read, Write or ReadWrite.
        self.assertEqual(reply.header("x-ms-throttle-scope"),
                         "Tenant_Application/ReadWrite/%s/%s" % (READER, CONTOSO))
        self.assertEqual(reply.header("x-ms-throttle-information"), "ResourceUnitLimitExceeded")
        time.sleep(float(reply.header("Retry-After")))
        self.assertEqual(self.graph("GET", "/users?$select=id", token).status, 200)

    def test_fractional_retry_after_and_per_app_buckets(self):
        self.control("POST", "tenants/%s/settings" % CONTOSO,
                     {"throttleResourceUnitQuota": 4, "retryAfterFormat": "fractional"})
        token = self.token()
        reply = None
        for _ in range(30):
            reply = self.graph("GET", "/users", token)
            if reply.status == 429:
                break
        self.assertEqual(reply.status, 429)
        self.assertRegex(reply.header("Retry-After"), r"^\d+\.\d{3}$")
        # Another app has its own bucket.
        other = self.token(client_id="1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", secret="writer-secret")
        self.assertEqual(self.graph("GET", "/users", other).status, 200)

    def test_write_quota(self):
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"throttleWriteQuota": 1})
        token = self.token(client_id="1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", secret="writer-secret")
        uid = self.graph("GET", "/users/adam@contoso.com", token).json["id"]
        self.assertEqual(self.graph("PATCH", "/users/" + uid, token, {"displayName": "A"}).status, 204)
        reply = self.graph("PATCH", "/users/" + uid, token, {"displayName": "B"})
        self.assertEqual(reply.status, 429)
        self.assertEqual(reply.header("x-ms-throttle-information"), "WriteLimitExceeded")
        self.assertFalse(self.control("GET", "writes")["value"][-1]["applied"])


class StatsTest(SimTestCase):
    """GET /_sim/stats: what each tenant's clients spent, as a benchmark reads it."""
    scenario = "demo.json"

    def test_counts_requests_resource_units_and_429s(self):
        self.control("DELETE", "stats")
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"throttleResourceUnitQuota": 3})
        token = self.token()
        self.assertEqual(self.graph("GET", "/users?$select=id", token).status, 200)   # 1 RU
        batch = {"requests": [{"id": str(i), "method": "GET", "url": "/users"}
                              for i in range(1, 5)]}                               # 4 x 2 RU
        reply = self.graph("POST", "/$batch", token, batch)
        self.assertEqual(reply.status, 200)
        statuses = sorted(r["status"] for r in reply.json["responses"])
        # 3 RU in the bucket (refilled at 0.3 RU/s): the GET and the first item fit
        # (1 + 2), the other items are 429 with Retry-After; each is charged all the same.
        self.assertEqual(statuses, [200, 429, 429, 429])
        throttled = [r for r in reply.json["responses"] if r["status"] == 429]
        self.assertTrue(all(r["headers"].get("Retry-After") for r in throttled), throttled)
        stats = self.control("GET", "stats")["tenants"][CONTOSO]
        self.assertEqual(stats, {"tokenRequests": 1, "httpRequests": 2, "graphRequests": 5,
                                 "batchItems": 4, "resourceUnits": 9, "throttled": 3})
        self.assertEqual(self.control("DELETE", "stats"), {"tenants": {}})
        self.assertEqual(self.control("GET", "stats"), {"tenants": {}})
        # The bucket is still empty until the throttle is reset.
        self.assertEqual(self.graph("GET", "/users?$select=id", token).status, 429)
        self.control("POST", "throttle/reset")
        self.assertEqual(self.graph("GET", "/users?$select=id", token).status, 200)
        self.assertEqual(self.control("GET", "stats")["tenants"][CONTOSO]["resourceUnits"], 1)

    def test_counted_when_throttling_is_off(self):
        self.control("DELETE", "stats")
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"throttleEnabled": False,
                                                                "throttleResourceUnitQuota": 1})
        token = self.token()
        for _ in range(3):
            self.assertEqual(self.graph("GET", "/users", token).status, 200)
        stats = self.control("GET", "stats")["tenants"][CONTOSO]
        self.assertEqual((stats["graphRequests"], stats["resourceUnits"], stats["throttled"]),
                         (3, 6, 0))


class LatencyTest(SimTestCase):
    """--latency-ms delays every token and Graph request (a lower bound is all a loaded
    machine lets a test assert)."""
    scenario = "demo.json"
    tls = False
    latency_ms = 150

    def test_every_client_request_waits(self):
        token = self.token()
        for path in ("/users?$select=id", "/groups"):
            started = time.monotonic()
            self.assertEqual(self.graph("GET", path, token).status, 200)
            self.assertGreaterEqual(time.monotonic() - started, 0.15)
        started = time.monotonic()
        self.token()
        self.assertGreaterEqual(time.monotonic() - started, 0.15)


class FaultTest(SimTestCase):
    scenario = "demo.json"
    tls = False

    def fault(self, **spec):
        return self.control("POST", "faults", spec)

    def test_status_faults_for_the_next_n_requests(self):
        token = self.token()
        self.fault(kind="429", count=2, retryAfter="1.5", path="/users")
        self.fault(kind="503", count=1, retryAfter="2")
        self.fault(kind="500", count=1)
        r1 = self.graph("GET", "/users", token)
        self.assertGraphError(r1, 429, "TooManyRequests")
        self.assertEqual(r1.header("Retry-After"), "1.5")
        self.assertTrue(r1.header("x-ms-throttle-scope"))
        self.assertEqual(self.graph("GET", "/groups", token).status, 503)  # path did not match the 429
        self.assertEqual(self.graph("GET", "/users", token).status, 429)
        r = self.graph("GET", "/users", token)
        self.assertEqual(r.status, 500)
        self.assertEqual(self.graph("GET", "/users", token).status, 200)
        self.assertEqual(self.control("GET", "faults")["faults"], [])

    def raw(self, path, token):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1], timeout=5)
        self.addCleanup(conn.close)
        conn.request("GET", path, headers={"Authorization": "Bearer " + token})
        return conn

    def test_reset_and_hang(self):
        token = self.token()
        self.fault(kind="reset")
        conn = self.raw("/v1.0/users", token)
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine)):
            conn.getresponse().read()
        self.fault(kind="hang", seconds=1)
        started = time.monotonic()
        conn = self.raw("/v1.0/users", token)
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, socket.timeout)):
            conn.getresponse().read()
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.fault(kind="hang", seconds=30)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1], timeout=0.5)
        conn.request("GET", "/v1.0/users", headers={"Authorization": "Bearer " + token})
        with self.assertRaises(socket.timeout):
            conn.getresponse()
        conn.close()

    def test_body_faults(self):
        token = self.token()
        self.fault(kind="truncated")
        conn = self.raw("/v1.0/users", token)
        resp = conn.getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()
        self.fault(kind="malformed")
        reply = self.graph("GET", "/users", token)
        self.assertEqual(reply.status, 200)
        with self.assertRaises(ValueError):
            json.loads(reply.raw)
        self.fault(kind="content-type")
        reply = self.graph("GET", "/users", token)
        self.assertTrue(reply.header("Content-Type").startswith("text/html"))
        self.fault(kind="oversized", bytes=3 * 1024 * 1024)
        reply = self.graph("GET", "/users", token)
        self.assertEqual(len(reply.raw), 3 * 1024 * 1024)
        self.assertEqual(int(reply.header("Content-Length")), 3 * 1024 * 1024)

    def test_foreign_next_link(self):
        token = self.token()
        self.fault(kind="foreign-nextlink", host="https://graph.attacker.invalid")
        body = self.graph("GET", "/users?$top=2", token).json
        self.assertTrue(body["@odata.nextLink"].startswith("https://graph.attacker.invalid/v1.0/users?"))
        body = self.graph("GET", "/users?$top=2", token).json
        self.assertTrue(body["@odata.nextLink"].startswith(self.base))

    def test_token_endpoint_faults_are_opt_in(self):
        self.fault(kind="503", includeToken=True, path="/oauth2/")
        self.assertEqual(self.token_reply().status, 503)
        self.fault(kind="503")
        self.assertEqual(self.token_reply().status, 200)
        self.control("DELETE", "faults")

    def test_request_log(self):
        token = self.token()
        self.graph("GET", "/users?$top=1", token, headers={"client-request-id": "cr-1",
                                                           "ConsistencyLevel": "eventual"})
        self.graph("GET", "/users", False)
        log = self.control("GET", "requests")["value"]
        self.assertEqual([e["kind"] for e in log], ["token", "graph", "graph"])
        tok, authed, anon = log
        self.assertEqual(tok["form"]["client_id"], READER)
        self.assertEqual(tok["credential"], "secret")
        self.assertEqual((authed["method"], authed["path"], authed["query"], authed["status"]),
                         ("GET", "/v1.0/users", {"$top": "1"}, 200))
        self.assertTrue(authed["hasAuthorization"])
        self.assertEqual(authed["headers"]["client-request-id"], "cr-1")
        self.assertEqual(authed["headers"]["consistencylevel"], "eventual")
        self.assertEqual(authed["tenant"], CONTOSO)
        self.assertFalse(anon["hasAuthorization"])
        self.assertEqual(anon["status"], 401)
        dump = json.dumps(log)
        self.assertNotIn(token, dump)
        self.assertNotIn("reader-secret", dump)
        since = self.control("GET", "requests?since=%d" % authed["seq"])["value"]
        self.assertEqual([e["seq"] for e in since], [anon["seq"]])

    def test_a_request_from_before_a_reset_is_not_logged_after_it(self):
        # A request that hangs for 30 s ends during the next test: its entry must not
        # show up in that test's log.  The epoch is taken when a request arrives.
        token = self.token()
        epoch = self.sim.log_epoch
        self.control("DELETE", "requests")
        self.sim.log_request({"method": "GET", "path": "/v1.0/users", "kind": "graph",
                              "status": "hang"}, epoch)
        self.graph("GET", "/users?$top=1", token)
        log = self.control("GET", "requests")["value"]
        self.assertEqual([e["status"] for e in log], [200])


if __name__ == "__main__":
    unittest.main()
