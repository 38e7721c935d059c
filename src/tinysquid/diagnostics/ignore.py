"""Reviewed findings: ``CODE[:FILE[:LINE]]`` rules that mark matching findings as ignored.

Pure: no file is read here (the project config is read by :mod:`tinysquid.project`). An ignored
finding stays in the report, marked with the rule that matched it; it no longer counts for
``--strict``. Errors cannot be ignored: their output would be wrong, not merely reviewed.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import MappingProxyType

from tinysquid.diagnostics.codes import CODES
from tinysquid.diagnostics.enums import Severity
from tinysquid.diagnostics.model import Diagnostic, Span, make
from tinysquid.diagnostics.report import Report

_CODE = re.compile(r"TS\d{3}")
_WITH_LINE = re.compile(r"(.*):(\d+)")


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One rule: ``code`` and optionally the finding's file (path or trailing path components) and line.

    ``origin`` says where it was written: a Span in the project config, or None for ``--ignore``.
    """

    code: str
    file: str | None = None
    line: int | None = None
    origin: Span | None = None

    @property
    def text(self) -> str:
        """The rule as written (normalised: code in upper case)."""
        parts = [self.code, *([self.file] if self.file is not None else []),
                 *([str(self.line)] if self.line is not None else [])]
        return ":".join(parts)

    @property
    def source(self) -> str:
        """Where the rule comes from: ``tinysquid.toml:3`` or ``--ignore``."""
        return f"{self.origin.path}:{self.origin.line}" if self.origin is not None else "--ignore"

    def matches(self, d: Diagnostic) -> bool:
        """Same code; same file (whole path, or its last components) and line when the rule names them.

        A finding without a span (``subject``-located, e.g. ``hardening.deny_destinations``) matches
        a FILE part equal to its subject, and never a rule with a LINE.
        """
        if d.code != self.code or d.severity is Severity.ERROR:
            return False
        if self.file is None:
            return True
        if d.span is None:
            return self.line is None and d.subject == self.file
        if self.line is not None and d.span.line != self.line:
            return False
        return _same_file(d.span.path, self.file)


@functools.lru_cache(maxsize=1024)
def _same_file(path: str, wanted: str) -> bool:
    have, want = PurePosixPath(path).parts, PurePosixPath(wanted).parts
    if want and want[0] == ".":  # pragma: no cover - PurePosixPath drops a leading "./"
        want = want[1:]
    return len(want) <= len(have) and have[len(have) - len(want):] == want


def parse_rule(text: str, origin: Span | None = None) -> IgnoreRule:
    """``CODE[:FILE[:LINE]]`` as an IgnoreRule.

    Raises:
        ValueError: the text is not of that form, names no known code, or names an error code; the
            message says which (the caller adds where the rule was written).
    """
    raw = text.strip()
    code, sep, rest = raw.partition(":")
    code = code.strip().upper()
    if not _CODE.fullmatch(code):
        raise ValueError(f"{text!r} is not CODE[:FILE[:LINE]] (CODE is TSnnn)")
    info = CODES.get(code)
    if info is None:
        raise ValueError(f"{text!r}: {code} is not a tinysquid code")
    if info.severity is Severity.ERROR:
        raise ValueError(f"{text!r}: {code} ({info.name}) is an error; errors cannot be ignored")
    if not sep:
        return IgnoreRule(code, origin=origin)
    file, line = rest, None
    m = _WITH_LINE.fullmatch(rest)
    if m:
        file, line = m.group(1), int(m.group(2))
        if line < 1:
            raise ValueError(f"{text!r}: LINE must be 1 or more")
    file = file.strip()
    if not file:
        raise ValueError(f"{text!r} is not CODE[:FILE[:LINE]] (FILE is empty)")
    return IgnoreRule(code, str(PurePosixPath(file)), line, origin)


def apply(report: Report, rules: tuple[IgnoreRule, ...] | list[IgnoreRule]) -> int:
    """Mark each finding a rule matches as ignored (the first matching rule is named), then add one
    TS023 warning per rule that matched nothing. Returns how many findings are ignored."""
    if not rules:
        return 0
    used = [False] * len(rules)
    marked: list[Diagnostic] = []
    count = 0
    # only the rules of a finding's own code are tried: 100,000 filter-entry findings stay cheap
    marks = [MappingProxyType({"rule": r.text, "source": r.source}) for r in rules]  # one per rule, shared
    by_code: dict[str, list[int]] = {}
    for i, r in enumerate(rules):
        by_code.setdefault(r.code, []).append(i)
    for d in report.diagnostics:
        candidates = by_code.get(d.code, ()) if d.ignored_by is None else ()
        hits = [i for i in candidates if rules[i].matches(d)]
        if not hits:
            marked.append(d)
            continue
        for i in hits:  # a rule shadowed by an earlier one is still used: it is not stale
            used[i] = True
        count += 1
        marked.append(dataclasses.replace(d, ignored_by=marks[hits[0]]))
    report.diagnostics[:] = marked
    for rule, was_used in zip(rules, used, strict=True):
        if not was_used:
            report.add(make("TS023", f"ignore rule {rule.text} matched no finding",
                            source="config", span=rule.origin,
                            subject=None if rule.origin is not None else f"--ignore {rule.text}"))
    return count


__all__ = ["IgnoreRule", "apply", "parse_rule"]
