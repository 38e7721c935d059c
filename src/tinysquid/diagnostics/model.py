"""Span, Diagnostic, Severity, Status: the value types of every finding tinysquid reports.

Severity and Status live in :mod:`tinysquid.diagnostics.enums` (below the code registry, which
names them) and are re-exported here; this module reads the registry, never the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tinysquid.diagnostics.enums import Severity, Status

# isort: split
# The registry after the enums: a code module that still imports them from here (instead of from
# diagnostics.enums, as test_layering requires) then imports at least, rather than failing.
from tinysquid.diagnostics.codes import CODES

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A place in an input file: 1-based line and column, the path as the user gave it."""

    path: str
    line: int
    col: int = 1
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One coded finding, located in a file (``span``) or on a named thing (``subject``).

    ``status`` is set on ``convert`` findings only. ``data`` carries machine-readable extras and
    never holds a secret. ``ignored_by`` (``rule``, ``source``) is set when a reviewed-findings
    rule (:mod:`tinysquid.diagnostics.ignore`) accepted the finding: it stays reported, marked,
    and no longer counts for ``--strict``.
    """

    code: str
    message: str
    severity: Severity
    source: str
    span: Span | None = None
    subject: str | None = None
    status: Status | None = None
    consequence: str | None = None
    hint: str | None = None
    related: tuple[Span, ...] = ()
    data: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    ignored_by: Mapping[str, str] | None = None

    @property
    def name(self) -> str:
        """The code's kebab-case name (``filter-bre-approximated``)."""
        info = CODES.get(self.code)
        return info.name if info else "unknown"

    def location(self) -> str:
        """``path:line:col`` or the subject, for human output."""
        if self.span is not None:
            return str(self.span)
        return self.subject or "-"

    def human(self) -> str:
        """One line in the linters' shape: ``file:12:1: TS204 warning: message [name]``."""
        return f"{self.location()}: {self.code} {self.severity}: {self.message} [{self.name}]"

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready dict (None fields left out)."""
        rec: dict[str, Any] = {"code": self.code, "name": self.name, "severity": str(self.severity)}
        if self.status is not None:
            rec["status"] = str(self.status)
        if self.span is not None:
            rec["file"] = self.span.path
            rec["line"] = self.span.line
            rec["col"] = self.span.col
        if self.subject is not None:
            rec["subject"] = self.subject
        rec["message"] = self.message
        if self.consequence:
            rec["consequence"] = self.consequence
        if self.hint:
            rec["hint"] = self.hint
        if self.related:
            rec["related"] = [str(s) for s in self.related]
        if self.data:
            rec["data"] = dict(self.data)
        rec["source"] = self.source
        if self.ignored_by is not None:
            rec["ignored"] = True
            rec["ignored_by"] = dict(self.ignored_by)
        return rec


def make(
    code: str,
    message: str,
    *,
    source: str,
    span: Span | None = None,
    subject: str | None = None,
    status: Status | None = None,
    severity: Severity | None = None,
    consequence: str | None = None,
    hint: str | None = None,
    related: tuple[Span, ...] = (),
    data: Mapping[str, Any] | None = None,
) -> Diagnostic:
    """Build a Diagnostic whose severity, status and hint default to the code's registry entry."""
    info = CODES[code]  # KeyError here means an unregistered code: a bug, caught by tests
    return Diagnostic(
        code=code,
        message=message,
        severity=severity or info.severity,
        source=source,
        span=span,
        subject=subject,
        status=status if status is not None else info.status,
        consequence=consequence,
        hint=hint if hint is not None else info.fix,
        related=related,
        data=MappingProxyType(dict(data)) if data else EMPTY,
    )


class InputError(Exception):
    """Bad input the user must fix: carries the Diagnostic that says where and why (exit 2)."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.human())
        self.diagnostic = diagnostic


__all__ = ["EMPTY", "Diagnostic", "InputError", "Severity", "Span", "Status", "make"]
