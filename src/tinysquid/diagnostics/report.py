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
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


# The one exit-code table: every command's --help epilog and the README's table are made from it
# (tests/unit/cli/test_conventions.py checks both). Per code: its name, what it means for any
# command, and what it means for each command that uses it.
EXIT_CODES: tuple[tuple[ExitCode, str, dict[str, str]], ...] = (
    (ExitCode.OK, "done", {
        "convert": "converted", "verify": "every probe agrees; noisy and intended count as agreeing",
        "inventory-aws": "complete", "plan-cutover": "ready: every blocking check passes",
        "schema": "printed"}),
    (ExitCode.FINDINGS, "findings", {
        "convert": "converted, but --strict and some line is not exact; hardening and ignored findings do not count",
        "verify": "some probe narrowed or changed", "plan-cutover": "a blocking check fails"}),
    (ExitCode.BAD_INPUT, "bad input", {
        "*": "a bad option or value, a missing or unreadable input file, an output that cannot "
             "be written; the message names file:line:col",
        "convert": "also: --validate failed, an object over Kubernetes' 1 MiB, OUT_DIR not empty without --force",
        "plan-cutover": "also: a document of the wrong kind or shape",
        "inventory-aws": "also: an unknown region", "schema": "an unknown kind"}),
    (ExitCode.WIDENED, "widened", {"verify": "some probe the old proxy refused is allowed by the new one"}),
    (ExitCode.INCOMPLETE, "incomplete", {
        "verify": "the run could not be made: a proxy unreachable, the deadline, probes without a usable "
                  "answer unless --allow-errors",
        "inventory-aws": "no AWS credentials, or every region rejected them",
        "plan-cutover": "plan written, but a blocking check is unknown; no inputs at all is incomplete"}),
    (ExitCode.PARTIAL, "partial", {"inventory-aws": "a call refused, a region unreachable, or the deadline: "
                                                    "each named in gaps"}),
    (ExitCode.INTERNAL, "internal error", {"*": "tinysquid failed unexpectedly: one line on stderr, never a "
                                                "traceback; --debug shows it; please report it"}),
    (ExitCode.INTERRUPTED, "interrupted", {"*": "Ctrl-C"}),
)


def exit_codes_text(command: str | None = None) -> str:
    """The table as one --help paragraph; for ``command``, with what each code means there."""
    parts = []
    for code, name, meaning in EXIT_CODES:
        detail = "; ".join(m for m in (meaning.get("*"), meaning.get(command or "")) if m)
        if command is None and not detail:
            detail = ", ".join(f"{c}: {m}" for c, m in meaning.items() if c != "*")
        elif not detail:
            detail = "not used here: " + ", ".join(c for c in meaning if c != "*")
        parts.append(f"{int(code)} {name}" + (f": {detail}" if detail else ""))
    return "Exit codes, shared by every command: " + " · ".join(parts) + "."


def exit_codes_markdown() -> str:
    """The table for the README: one row per code, what it means for each command."""
    rows = ["| exit | meaning | convert | verify | inventory-aws | plan-cutover |",
            "| --- | --- | --- | --- | --- | --- |"]
    for code, name, meaning in EXIT_CODES:
        cells = [meaning.get(c, "") for c in ("convert", "verify", "inventory-aws", "plan-cutover")]
        general = meaning.get("*", "")
        rows.append(f"| {int(code)} | {name}{': ' + general if general else ''} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


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
