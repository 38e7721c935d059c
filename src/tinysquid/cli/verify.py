"""`tinysquid verify`: Send the same probes through the old and the new proxy and show where their decisions differ."""

from __future__ import annotations

from tinysquid.cli._common import not_implemented

EPILOG = "Not implemented yet (issue #3). Exit codes: 2 not implemented."


def verify() -> None:
    """Send the same probes through the old and the new proxy and show where their decisions differ."""
    not_implemented("verify", 3)
