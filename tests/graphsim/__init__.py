"""graphsim's own tests.  Also importable as a package so that
`python3 -m unittest discover -s tests/graphsim -t .` (the Makefile's graphsim-check) works:
the helper module simtest is then found through this directory on sys.path."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
