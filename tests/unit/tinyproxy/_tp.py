"""Helpers for the tinyproxy front-end tests: write a config (and filter) to tmp, read it back."""

from __future__ import annotations

from pathlib import Path

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import InputError, Status
from tinysquid.policy import ir
from tinysquid.tinyproxy import read_policy


def load(tmp_path: Path, text: str | bytes, *, version: str = "1.11", filter_text: str | bytes | None = None,
         filter_name: str = "filter", root: Path | None = None) -> tuple[ir.Policy, Report]:
    """Write ``text`` as tinyproxy.conf (and ``filter_text`` next to it) and lower it."""
    conf = tmp_path / "tinyproxy.conf"
    conf.write_bytes(text.encode() if isinstance(text, str) else text)
    if filter_text is not None:
        f = tmp_path / filter_name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(filter_text.encode() if isinstance(filter_text, str) else filter_text)
    report = Report()
    policy = read_policy(conf, version=version, root=root, report=report)
    return policy, report


def error_of(tmp_path: Path, text: str | bytes, **kw) -> tuple[str, int, int]:
    """(code, line, col) of the InputError reading ``text`` raises."""
    try:
        load(tmp_path, text, **kw)
    except InputError as exc:
        d = exc.diagnostic
        assert d.span is not None
        return d.code, d.span.line, d.span.col
    raise AssertionError("no InputError")


def status_of(report: Report, line: int, path_end: str = "tinyproxy.conf") -> tuple[str, Status]:
    """(code, status) of THE fidelity finding of ``line`` (asserting there is exactly one)."""
    found = [d for d in report.diagnostics
             if d.status is not None and d.span is not None and d.span.line == line
             and d.span.path.endswith(path_end)]
    assert len(found) == 1, [d.human() for d in found]
    return found[0].code, found[0].status


def directive_lines(text: str) -> list[int]:
    """Line numbers that are neither blank nor column-0 comments (1.11 rules)."""
    return [i for i, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]
