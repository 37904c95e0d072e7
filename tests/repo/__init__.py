"""Checks of the source tree itself: citations that resolve inside the repository, and
ARCHITECTURE.md against daemon/.  Run by `make repo-check` (part of `make check`)."""
