"""PATCH /users/{id} onPremisesImmutableId, the write log, and JSON $batch."""

import unittest

from simtest import CONTOSO, WRITER, SimTestCase, q


class PatchTest(SimTestCase):
    scenario = "demo.json"

    def writer(self):
        return self.token(client_id=WRITER, secret="writer-secret")

    def uid(self, upn):
        return self.graph("GET", "/users/" + upn).json["id"]

    def test_set_immutable_id_on_cloud_user(self):
        uid = self.uid("adam@contoso.com")
        reply = self.graph("PATCH", "/users/" + uid, self.writer(), {"onPremisesImmutableId": "QWRhbUFuY2hvcjAwMDAwMA=="})
        self.assertEqual(reply.status, 204)
        self.assertEqual(reply.raw, b"")
        user = self.graph("GET", "/users/%s?$select=onPremisesImmutableId" % uid).json
        self.assertEqual(user["onPremisesImmutableId"], "QWRhbUFuY2hvcjAwMDAwMA==")
        writes = self.control("GET", "writes")["value"]
        self.assertEqual(len(writes), 1)
        self.assertEqual((writes[0]["method"], writes[0]["status"], writes[0]["applied"]), ("PATCH", 204, True))
        self.assertEqual(writes[0]["body"], {"onPremisesImmutableId": "QWRhbUFuY2hvcjAwMDAwMA=="})
        # The next export with that anchor hard-matches the cloud user.
        result = self.control("POST", "tenants/%s/export" % CONTOSO, {
            "objectType": "user", "sourceAnchor": "QWRhbUFuY2hvcjAwMDAwMA==",
            "userPrincipalName": "adam@contoso.com", "proxyAddresses": ["SMTP:adam@contoso.com"]})["value"][0]
        self.assertEqual((result["result"], result["id"]), ("hard-matched", uid))

    def test_rejections(self):
        token = self.writer()
        cloud = self.uid("adam@contoso.com")
        synced = self.uid("beth@contoso.com")
        err = self.assertGraphError(self.graph("PATCH", "/users/" + synced, token, {"onPremisesImmutableId": "eA=="}),
                                    400, "Request_BadRequest")
        self.assertIn("on-premises mastered", err["message"])
        for bad in ("a$b", "a_b", None):
            self.assertGraphError(self.graph("PATCH", "/users/" + cloud, token, {"onPremisesImmutableId": bad}),
                                  400, "Request_BadRequest")
        err = self.assertGraphError(self.graph("PATCH", "/users/" + cloud, token,
                                               {"onPremisesImmutableId": "RGVtb0FuY2hvcjA001AA=="}),
                                    400, "Request_BadRequest")
        self.assertIn("already exists", err["message"])
        self.assertGraphError(self.graph("PATCH", "/users/" + cloud, self.token(), {"onPremisesImmutableId": "eA=="}),
                              403, "Authorization_RequestDenied")
        writes = self.control("GET", "writes")["value"]
        self.assertEqual(len(writes), 6)
        self.assertFalse(any(w["applied"] for w in writes))
        user = self.graph("GET", "/users/%s?$select=onPremisesImmutableId" % cloud).json
        self.assertIsNone(user["onPremisesImmutableId"])

    def test_monitor_only_traffic_writes_nothing(self):
        token = self.token()
        self.get_all("/users?$select=id,onPremisesProvisioningErrors&$top=5", token)
        self.graph("POST", "/$batch", token, {"requests": [{"id": "1", "method": "GET", "url": "/groups"}]})
        self.assertEqual(self.control("GET", "writes")["value"], [])
        # Any other write verb is logged as an attempt.
        self.graph("DELETE", "/users/adam@contoso.com", token)
        self.assertEqual([w["method"] for w in self.control("GET", "writes")["value"]], ["DELETE"])


class BatchTest(SimTestCase):
    scenario = "demo.json"

    def test_batch_responses(self):
        uid = self.graph("GET", "/users/adam@contoso.com").json["id"]
        body = {"requests": [
            {"id": "1", "method": "GET", "url": "/users?$filter=" + q("proxyAddresses/any(x:x eq 'smtp:beth@contoso.com')") + "&$select=id"},
            {"id": "2", "method": "GET", "url": "groups?$select=id&$top=2"},
            {"id": "3", "method": "GET", "url": "/users/00000000-0000-0000-0000-000000000000"},
            {"id": "4", "method": "PATCH", "url": "/users/" + uid, "headers": {"Content-Type": "application/json"},
             "body": {"onPremisesImmutableId": "QmF0Y2hBbmNob3IwMDAwMA=="}},
            {"id": "5", "method": "GET", "url": "/users?$filter=" + q("jobTitle eq 'x'")},
        ]}
        reply = self.graph("POST", "/$batch", self.token(client_id=WRITER, secret="writer-secret"), body)
        self.assertEqual(reply.status, 200)
        responses = {r["id"]: r for r in reply.json["responses"]}
        self.assertEqual(responses["1"]["status"], 200)
        self.assertEqual(len(responses["1"]["body"]["value"]), 1)
        self.assertIn("application/json", responses["1"]["headers"]["Content-Type"])
        self.assertEqual(responses["2"]["status"], 200)
        self.assertIn("@odata.nextLink", responses["2"]["body"])
        self.assertEqual(responses["3"]["status"], 404)
        self.assertEqual(responses["3"]["body"]["error"]["code"], "Request_ResourceNotFound")
        self.assertEqual(responses["4"]["status"], 204)
        self.assertNotIn("body", responses["4"])
        self.assertEqual(responses["5"]["body"]["error"]["code"], "Request_UnsupportedQuery")

    def test_batch_limits(self):
        token = self.token()
        twenty = {"requests": [{"id": str(i), "method": "GET", "url": "/users?$top=1"} for i in range(20)]}
        reply = self.graph("POST", "/$batch", token, twenty)
        self.assertEqual(reply.status, 200)
        self.assertEqual(len(reply.json["responses"]), 20)
        twenty["requests"].append({"id": "20", "method": "GET", "url": "/users"})
        self.assertGraphError(self.graph("POST", "/$batch", token, twenty), 400, "BadRequest")
        dup = {"requests": [{"id": "1", "method": "GET", "url": "/users"}] * 2}
        self.assertGraphError(self.graph("POST", "/$batch", token, dup), 400, "BadRequest")
        self.assertGraphError(self.graph("POST", "/$batch", token, "{nope"), 400, "BadRequest")
        no_ctype = {"requests": [{"id": "1", "method": "PATCH", "url": "/users/x", "body": {}}]}
        self.assertEqual(self.graph("POST", "/$batch", token, no_ctype).json["responses"][0]["status"], 400)

    def test_batch_item_faults(self):
        """A batchItem fault answers one request inside a batch (the others are served);
        an ordinary fault never matches inside a batch, nor a batchItem fault outside."""
        self.control("POST", "faults", [
            {"kind": "429", "count": 1, "path": "/groups", "batchItem": True, "retryAfter": "2"},
            {"kind": "403", "count": 1, "path": "smtp:beth@contoso.com", "batchItem": True}])
        body = {"requests": [
            {"id": "1", "method": "GET", "url": "/users?$select=id&$top=1"},
            {"id": "2", "method": "GET", "url": "/groups?$select=id&$top=1"},
            {"id": "3", "method": "GET", "url": "/contacts?$filter=" + q(
                "proxyAddresses/any(x:x eq 'smtp:beth@contoso.com')")},
        ]}
        reply = self.graph("POST", "/$batch", None, body)
        self.assertEqual(reply.status, 200)
        responses = {r["id"]: r for r in reply.json["responses"]}
        self.assertEqual(responses["1"]["status"], 200)
        self.assertEqual(responses["2"]["status"], 429)
        self.assertEqual(responses["2"]["headers"]["Retry-After"], "2")
        self.assertEqual(responses["2"]["body"]["error"]["code"], "TooManyRequests")
        self.assertEqual(responses["3"]["status"], 403)
        self.assertEqual(responses["3"]["body"]["error"]["code"], "Authorization_RequestDenied")
        self.assertEqual(self.control("GET", "faults")["faults"], [])
        faulted = [e for e in self.control("GET", "requests?since=0")["value"]
                   if e.get("batchId") and e.get("fault")]
        self.assertEqual(sorted(e["fault"] for e in faulted), ["403", "429"])
        # Outside a batch it does not match; an ordinary fault does not match inside.
        self.control("POST", "faults", {"kind": "503", "path": "/groups", "batchItem": True})
        self.assertEqual(self.graph("GET", "/groups?$top=1").status, 200)
        self.control("DELETE", "faults")
        self.control("POST", "faults", {"kind": "503", "path": "/groups"})
        reply = self.graph("POST", "/$batch", None, {"requests": [
            {"id": "1", "method": "GET", "url": "/groups?$top=1"}]})
        self.assertEqual(reply.json["responses"][0]["status"], 200)
        self.control("DELETE", "faults")
        # Only status faults can hit a batch item.
        self.control("POST", "faults", {"kind": "reset", "batchItem": True}, expect=400)

    def test_reversed_order_switch(self):
        self.control("POST", "tenants/%s/settings" % CONTOSO, {"batchReverseResponses": True})
        body = {"requests": [{"id": "a", "method": "GET", "url": "/users?$top=1"},
                             {"id": "b", "method": "GET", "url": "/groups?$top=1"}]}
        ids = [r["id"] for r in self.graph("POST", "/$batch", None, body).json["responses"]]
        self.assertEqual(ids, ["b", "a"])


if __name__ == "__main__":
    unittest.main()
