"""The large-tenant generator: deterministic by seed, and paging correctness over 100,000
users (every object exactly once, the conflict filter finds exactly the conflicts)."""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

from simtest import ROOT, SimTestCase, q

from graphsimlib.scenario import generate

TENANT = "11111111-2222-4333-8444-555555555555"
CLIENT = "00000000-0000-4000-8000-00000000c11e"
BIG = {"description": "100k users", "tenants": [{
    "id": TENANT, "initialDomain": "contoso", "domains": ["contoso.com"],
    "apps": [{"clientId": CLIENT, "secret": "graphsim-secret", "roles": ["User.Read.All"]}],
    "generate": {"users": 100000, "conflicts": 2000, "groups": 300, "contacts": 300, "seed": 42}}]}


def digest(data):
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class GeneratorDeterminismTest(unittest.TestCase):
    def test_same_seed_same_tenant(self):
        spec = {"users": 2000, "conflicts": 100, "groups": 50, "contacts": 50, "seed": 7}
        a = generate(TENANT, "contoso", "contoso.com", spec)
        b = generate(TENANT, "contoso", "contoso.com", spec)
        c = generate(TENANT, "contoso", "contoso.com", dict(spec, seed=8))
        self.assertEqual(digest(a), digest(b))
        self.assertNotEqual(digest(a), digest(c))
        self.assertEqual(len(a["objects"]["users"]) + sum(
            1 for e in a["exports"] if e["objectType"] == "user"), 2000)

    def test_cli_writes_compact_and_expanded_scenarios(self):
        tmp = tempfile.mkdtemp(prefix="graphsim-gen-")
        graphsim = os.path.join(ROOT, "scripts", "graphsim")
        outs = []
        for name, extra in (("compact.json", []), ("expanded.json", ["--expand"]),
                            ("expanded2.json", ["--expand"])):
            path = os.path.join(tmp, name)
            subprocess.run([sys.executable, graphsim, "generate", "--users", "500", "--conflicts",
                            "20", "--seed", "3", "--out", path] + extra, check=True, timeout=60)
            with open(path) as f:
                outs.append(json.load(f))
        self.assertEqual(outs[0]["tenants"][0]["generate"]["users"], 500)
        self.assertEqual(outs[1], outs[2])
        self.assertEqual(len(outs[1]["tenants"][0]["exports"]), 20)


class BigTenantTest(SimTestCase):
    scenario = BIG
    tls = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sim.load(BIG)

    def setUp(self):
        pass  # loaded once for the class: the tests only read

    def token(self, **kw):
        return super().token(tenant=TENANT, client_id=CLIENT, secret="graphsim-secret")

    def test_full_listing_pages_every_user_once(self):
        items, pages = self.get_all("/users?$select=id,userPrincipalName,onPremisesProvisioningErrors&$top=999")
        self.assertEqual(len(items), 100000)
        self.assertEqual(len({i["id"] for i in items}), 100000)
        self.assertEqual(pages, 101)
        self.assertEqual(sum(1 for i in items if i["onPremisesProvisioningErrors"]), 2000)

    def test_conflict_filter_across_pages(self):
        flt = q("onPremisesProvisioningErrors/any(o:o/category eq 'PropertyConflict')")
        items, pages = self.get_all("/users?$filter=%s&$select=id,userPrincipalName,onPremisesProvisioningErrors&$top=100" % flt)
        self.assertEqual(len(items), 2000)
        self.assertEqual(len({i["id"] for i in items}), 2000)
        self.assertEqual(pages, 20)
        upn = [i for i in items if i["onPremisesProvisioningErrors"][0]["propertyCausingError"] == "UserPrincipalName"]
        self.assertEqual(len(upn), 1000)
        for coll in ("groups", "contacts"):
            found, _ = self.get_all("/%s?$filter=%s" % (coll, flt))
            self.assertEqual(len(found), 20)

    def test_lookup_finds_the_one_holder(self):
        # How fast loading and lookups are is measured by make bench (scripts/bench-peer
        # at 100,000 users), not asserted here: a loaded machine must not fail a test.
        for i in range(0, 100000 - 2000, 4900):
            reply = self.graph("GET", "/users?$filter=%s&$select=id" % q(
                "proxyAddresses/any(x:x eq 'smtp:user%06d@contoso.com')" % i), self.token())
            self.assertEqual(len(reply.json["value"]), 1)


if __name__ == "__main__":
    unittest.main()
