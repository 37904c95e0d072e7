"""graphsim: a stateful stand-in for Microsoft Graph v1.0 and the Entra ID token endpoint.

Python 3 standard library only.  Each behaviour carries a comment naming the
Microsoft page it follows, directly or through a section of docs/graph-facts.md,
which states each fact with its Microsoft URLs.  Where the documents are silent
or disagree the behaviour is a per-tenant switch (see settings.py).  The
simulator's manual is scripts/graphsimlib/README.md.
"""
