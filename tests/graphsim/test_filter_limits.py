"""Filter limits: at most 15 or-clauses ("in" values counted) without advanced queries, a
URL of at most 2,048 characters with them, and eq / startswith values of at most 120
characters (https://learn.microsoft.com/graph/filter-query-parameter,
https://learn.microsoft.com/graph/known-issues)."""

import unittest

from simtest import SimTestCase, q

ADVANCED = {"ConsistencyLevel": "eventual"}


class FilterLimitsTest(SimTestCase):
    scenario = "demo.json"

    def users(self, flt, headers=None, extra=""):
        return self.graph("GET", "/users?$filter=%s&$select=id,userPrincipalName%s"
                          % (q(flt), extra), headers=headers)

    def upns(self, n):
        names = ["adam@contoso.com", "beth@contoso.com"]
        return names + ["nobody%d@contoso.com" % i for i in range(n - len(names))]

    def test_in_finds_every_value_without_case(self):
        reply = self.users("userPrincipalName in ('ADAM@contoso.com','beth@Contoso.com',"
                           "'nobody@contoso.com')")
        self.assertEqual(reply.status, 200, reply.raw[:300])
        self.assertEqual(sorted(u["userPrincipalName"] for u in reply.json["value"]),
                         ["adam@contoso.com", "beth@contoso.com"])

    def test_fifteen_clauses_pass_sixteen_are_refused(self):
        values = "','".join(self.upns(15))
        self.assertEqual(self.users("userPrincipalName in ('%s')" % values).status, 200)
        values = "','".join(self.upns(16))
        err = self.assertGraphError(self.users("userPrincipalName in ('%s')" % values), 400,
                                    "Request_UnsupportedQuery")
        self.assertEqual(err["message"], "Too many child clauses specified in search filter "
                         "expression containing 'OR' operators: 16. Max allowed: 15.")
        # "in" values and or-operands count together.
        flt = "userPrincipalName in ('%s') or mail in ('%s') or " % (
            "','".join(self.upns(4)), "','".join(self.upns(4)))  # 8 clauses
        flt += " or ".join("proxyAddresses/any(x:x eq 'SMTP:%s')" % u for u in self.upns(8))
        self.assertEqual(self.users(flt.rsplit(" or ", 1)[0]).status, 200)  # 15
        err = self.assertGraphError(self.users(flt), 400, "Request_UnsupportedQuery")
        self.assertIn("'OR' operators: 16.", err["message"])

    def test_advanced_queries_lift_the_clause_limit_but_not_the_url_length(self):
        values = "','".join(self.upns(16))
        self.assertEqual(self.users("userPrincipalName in ('%s')" % values, ADVANCED,
                                    "&$count=true").status, 200)
        values = "','".join(self.upns(120))
        err = self.assertGraphError(self.users("userPrincipalName in ('%s')" % values,
                                               ADVANCED, "&$count=true"),
                                    400, "Request_UnsupportedQuery")
        self.assertIn("Max allowed: 2048", err["message"])

    def test_values_over_120_characters_are_refused(self):
        value = "x" * 112 + "@b.co.uk"           # 120: accepted
        self.assertEqual(self.users("mail eq '%s'" % value).status, 200)
        self.assertEqual(self.users("proxyAddresses/any(x:x eq 'SMTP:%s')" % value[5:]).status,
                         200)
        for flt in ("mail eq 'y%s'" % value,
                    "userPrincipalName in ('a@b.c','y%s')" % value,
                    "proxyAddresses/any(x:x eq 'SMTP:%s')" % value,
                    "startswith(mail,'y%s')" % value):
            err = self.assertGraphError(self.users(flt), 400, "Request_UnsupportedQuery")
            self.assertTrue(err["message"].startswith("Unsupported or invalid query filter "
                                                      "clause specified for property"), err)

    def test_limits_hold_inside_batch(self):
        values = "','".join(self.upns(16))
        body = {"requests": [{"id": "1", "method": "GET", "url": "/users?$filter=%s"
                              % q("userPrincipalName in ('%s')" % values)}]}
        reply = self.graph("POST", "/$batch", body=body,
                           headers={"Content-Type": "application/json"})
        self.assertEqual(reply.status, 200)
        item = reply.json["responses"][0]
        self.assertEqual(item["status"], 400)
        self.assertEqual(item["body"]["error"]["code"], "Request_UnsupportedQuery")


if __name__ == "__main__":
    unittest.main()
