"""graphsim: a stateful stand-in for Microsoft Graph v1.0 and the Entra ID token endpoint.

Python 3 standard library only.  Each behaviour carries a comment naming the
Microsoft document it follows; the numbered sections refer to
shared/reference/graph-facts.md ("graph-facts §N").  Where the documents are
silent or disagree the behaviour is a per-tenant switch (see settings.py).
"""
