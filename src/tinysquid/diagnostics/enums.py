"""Severity and Status: the two scales every diagnostic code and finding is placed on.

A leaf module: the code registry (:mod:`tinysquid.diagnostics.codes`) names these, and
:mod:`tinysquid.diagnostics.model` reads the registry.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How loud a finding is. ``error`` findings in input stop the command (exit 2)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Status(StrEnum):
    """How faithfully one input line was carried over by ``convert``."""

    EXACT = "exact"
    APPROXIMATED = "approximated"
    UNSUPPORTED = "unsupported"
    DROPPED_BY_TINYPROXY = "dropped-by-tinyproxy"
    HARDENING = "hardening"
    LEGACY_HOLE = "legacy-hole"
