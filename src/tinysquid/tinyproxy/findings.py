"""LineFindings: the one fidelity verdict per input line that the lowering records, plus notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Diagnostic, Span, Status, make
from tinysquid.tinyproxy.grammar import Grammar
from tinysquid.tinyproxy.parser import SOURCE


@dataclass
class LineFindings:
    """The findings of one lowering: THE fidelity verdict per input line, plus notes."""

    g: Grammar
    path: str
    report: Report
    findings: dict[tuple[str, int], Diagnostic] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    extra: list[Diagnostic] = field(default_factory=list)

    def status(self, code: str, message: str, span: Span, **kw: Any) -> None:
        """Record THE fidelity finding of a line: a later call replaces it, except that an exact
        verdict never hides an inexact one (a filter line split into two patterns, say)."""
        key = (span.path, span.line)
        old = self.findings.get(key)
        if code == "TS200" and old is not None and old.status is not Status.EXACT:
            return
        self.findings[key] = make(code, message, source=SOURCE, span=span, **kw)

    def exact(self, message: str, span: Span, **kw: Any) -> None:
        self.status("TS200", message, span, **kw)

    def note(self, code: str, message: str, span: Span, **kw: Any) -> None:
        """A finding that is not the line's verdict (no status)."""
        self.extra.append(make(code, message, source=SOURCE, span=span, status=None, **kw))


__all__ = ["LineFindings"]
