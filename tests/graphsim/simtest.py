"""Shared fixtures for the graphsim tests: certificates (generated once per run with
scripts/graphsim-certs), an in-process server per test class, and small HTTP helpers
built on urllib."""

import atexit
import copy
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPTS = os.path.join(ROOT, "scripts")
SCENARIOS = os.path.join(ROOT, "tests", "scenarios")
sys.path.insert(0, SCRIPTS)

from graphsimlib.server import SimServer, make_ssl_context  # noqa: E402
from graphsimlib.state import Simulator  # noqa: E402

CONTOSO = "6e9e7f1a-4c3b-4b2a-9f0e-1d2c3b4a5f60"
FABRIKAM = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
READER = "0f4a5b6c-7d8e-4f90-a1b2-c3d4e5f60718"
WRITER = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
EXPIRED = "2b3c4d5e-6f70-4a8b-9cad-1e2f3a4b5c6d"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"

_certs = None


def cert_dir():
    """One CA, server and app certificate per test run."""
    global _certs
    if _certs is None:
        _certs = tempfile.mkdtemp(prefix="graphsim-test-certs-")
        atexit.register(shutil.rmtree, _certs, True)
        subprocess.run([os.path.join(SCRIPTS, "graphsim-certs"), _certs], check=True)
    return _certs


def load_scenario(name):
    with open(os.path.join(SCENARIOS, name)) as f:
        return json.load(f)


class Reply:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw

    @property
    def json(self):
        return json.loads(self.raw)

    def header(self, name):
        return self.headers.get(name)


class SimTestCase(unittest.TestCase):
    """Starts one simulator per test class; each test reloads the class scenario."""

    scenario = "demo.json"
    tls = True
    clock = "manual"
    token_lifetime = 3599
    sweep_interval = 3600
    latency_ms = 0

    @classmethod
    def setUpClass(cls):
        cls.sim = Simulator(cls.clock, cls.token_lifetime, cls.sweep_interval)
        ctx = None
        if cls.tls:
            d = cert_dir()
            ctx = make_ssl_context(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
            cls.client_ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.pem"))
        else:
            cls.client_ctx = None
        cls.server = SimServer("127.0.0.1", 0, cls.sim, ctx, latency_ms=cls.latency_ms)
        cls.server.start_background()
        cls.base = cls.server.url

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.load(self.scenario_data())

    def scenario_data(self):
        return load_scenario(self.scenario) if isinstance(self.scenario, str) else \
            copy.deepcopy(self.scenario)

    # ----- HTTP ----------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=30):
        url = path if path.startswith("http") else self.base + path
        data = body
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.client_ctx) as resp:
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            return Reply(err.code, err.headers, err.read())

    def control(self, method, path, body=None, expect=200):
        reply = self.request(method, "/_sim/" + path.lstrip("/"), body)
        self.assertEqual(reply.status, expect, reply.raw)
        return reply.json

    def load(self, data):
        return self.control("POST", "scenario", data)

    def token_reply(self, tenant=CONTOSO, client_id=READER, secret="reader-secret",
                    scope=GRAPH_SCOPE, extra=None, headers=None):
        form = {"grant_type": "client_credentials", "scope": scope}
        if client_id is not None:
            form["client_id"] = client_id
        if secret is not None:
            form["client_secret"] = secret
        form.update(extra or {})
        return self.request("POST", "/%s/oauth2/v2.0/token" % tenant,
                            urllib.parse.urlencode(form),
                            dict({"Content-Type": "application/x-www-form-urlencoded"},
                                 **(headers or {})))

    def token(self, **kw):
        reply = self.token_reply(**kw)
        self.assertEqual(reply.status, 200, reply.raw)
        return reply.json["access_token"]

    def graph(self, method, path, token=None, body=None, headers=None):
        hdrs = dict(headers or {})
        if token is not False:
            hdrs["Authorization"] = "Bearer " + (token or self.token())
        if not path.startswith("http"):
            path = "/v1.0" + path
        return self.request(method, path, body, hdrs)

    def get_all(self, path, token=None, headers=None):
        """Follow @odata.nextLink to the end; returns (items, pages)."""
        token = token or self.token()
        items, pages = [], 0
        url = path
        while url:
            reply = self.graph("GET", url, token, headers=headers)
            self.assertEqual(reply.status, 200, reply.raw[:500])
            body = reply.json
            items.extend(body["value"])
            pages += 1
            url = body.get("@odata.nextLink")
        return items, pages

    def assertGraphError(self, reply, status, code):
        self.assertEqual(reply.status, status, reply.raw[:500])
        body = reply.json
        self.assertEqual(body["error"]["code"], code, body)
        self.assertIn("message", body["error"])
        inner = body["error"]["innerError"]
        for field in ("date", "request-id", "client-request-id"):
            self.assertIn(field, inner)
        return body["error"]


def q(text):
    """Percent-encode an OData query value the way a client would."""
    return urllib.parse.quote(text, safe="$,()':/@=")
