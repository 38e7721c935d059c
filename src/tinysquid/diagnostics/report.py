"""Report: an ordered collection of Diagnostics with counts, records and the exit-code decision."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from tinysquid.diagnostics.model import Diagnostic, Severity, Status


class ExitCode(IntEnum):
    """Exit codes shared by every command (each command's --help lists the ones it uses)."""

    OK = 0
    FINDINGS = 1
    BAD_INPUT = 2
    WIDENED = 3
    INCOMPLETE = 4
    PARTIAL = 5
    INTERNAL = 70  # EX_SOFTWARE: tinysquid itself failed (a bug); never a documented result


def _sort_key(d: Diagnostic) -> tuple[Any, ...]:
    if d.span is not None:
        return (0, d.span.path, d.span.line, d.span.col, d.code)
    return (1, d.subject or "", 0, 0, d.code)


@dataclass
class Report:
    """Findings of one command run. Stages add to it; only ``exit_code`` decides the outcome."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    # (the findings as last sorted, that order): see _sorted
    _order: tuple[tuple[Diagnostic, ...], list[Diagnostic]] | None = field(
        default=None, init=False, repr=False, compare=False)

    def add(self, diagnostic: Diagnostic) -> None:
        """Record one finding."""
        self.diagnostics.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Record several findings."""
        self.diagnostics.extend(diagnostics)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._sorted())

    def _sorted(self) -> list[Diagnostic]:
        """The findings in report order, reused while ``diagnostics`` holds the same objects.

        ``convert`` iterates a report several times (report.json, report.md, the summary); building
        100,000 sort keys each time cost more than the check that nothing changed (an identity
        comparison of two tuples). Stages may append or replace findings at any time; any change
        shows up in that comparison and the order is rebuilt.
        """
        current = tuple(self.diagnostics)
        if self._order is None or self._order[0] != current:
            self._order = (current, sorted(current, key=_sort_key))
        return self._order[1]

    def __len__(self) -> int:
        return len(self.diagnostics)

    def by_status(self) -> dict[str, int]:
        """Counts per convert status, every status present (zeros included), in a stable order."""
        counts = Counter(str(d.status) for d in self.diagnostics if d.status is not None)
        return {str(s): counts.get(str(s), 0) for s in Status}

    def by_severity(self) -> dict[str, int]:
        """Counts per severity, every severity present."""
        counts = Counter(str(d.severity) for d in self.diagnostics)
        return {str(s): counts.get(str(s), 0) for s in Severity}

    def errors(self) -> list[Diagnostic]:
        """The error-severity findings, sorted."""
        # filter, then sort (stable, so the same order as sorting everything first): the exit-code
        # decision must not sort 100,000 exact findings to find none
        return sorted((d for d in self.diagnostics if d.severity is Severity.ERROR), key=_sort_key)

    def not_exact(self) -> list[Diagnostic]:
        """Convert findings whose status is set and is not ``exact``, sorted."""
        return sorted((d for d in self.diagnostics if d.status is not None and d.status is not Status.EXACT),
                      key=_sort_key)

    def ignored(self) -> int:
        """How many findings a reviewed-findings rule marked as ignored."""
        return sum(d.ignored_by is not None for d in self.diagnostics)

    def to_records(self) -> list[dict[str, Any]]:
        """Every finding as a JSON-ready dict, sorted by file, line, column, code."""
        return list(self.iter_records())

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """``to_records`` one at a time: a writer that encodes each record as it comes never holds
        100,000 record dicts at once (most of report.json's peak memory)."""
        return (d.to_record() for d in self)

    def exit_code(self, *, strict: bool = False) -> ExitCode:
        """BAD_INPUT if any error; under ``strict`` FINDINGS if any non-exact status; else OK.

        ``hardening`` findings are deliberate narrowing chosen by the tool and do not fail --strict;
        nor do ignored ones (reviewed, see :mod:`tinysquid.diagnostics.ignore`).
        """
        if self.errors():
            return ExitCode.BAD_INPUT
        if strict and any(d.status is not Status.HARDENING and d.ignored_by is None for d in self.not_exact()):
            return ExitCode.FINDINGS
        return ExitCode.OK
