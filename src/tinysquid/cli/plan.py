"""`tinysquid plan-cutover`: Write a phased, checkable cutover runbook with rollback from tinyproxy to squid."""

from __future__ import annotations

from tinysquid.cli._common import not_implemented

EPILOG = "Not implemented yet (issue #5). Exit codes: 2 not implemented."


def plan_cutover() -> None:
    """Write a phased, checkable cutover runbook with rollback from tinyproxy to squid."""
    not_implemented("plan-cutover", 5)
