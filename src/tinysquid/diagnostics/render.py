"""Report rendering: a rich table for people (stderr), JSON/YAML for machines, Markdown for PRs.

The only formatter of diagnostics; commands call it, never format findings themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from typing import IO, Any

from tinysquid.diagnostics.model import Severity, Status
from tinysquid.diagnostics.report import Report


class Format(StrEnum):
    """Output formats for a report."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    MARKDOWN = "markdown"


_STATUS_STYLE = {
    Status.EXACT: "green",
    Status.APPROXIMATED: "yellow",
    Status.UNSUPPORTED: "red",
    Status.DROPPED_BY_TINYPROXY: "magenta",
    Status.HARDENING: "cyan",
    Status.LEGACY_HOLE: "bold red",
}


def to_document(report: Report, **header: Any) -> dict[str, Any]:
    """The report as one JSON-ready document: the given header keys, a summary, the findings."""
    doc: dict[str, Any] = dict(header)
    doc["summary"] = _summary(report)
    doc["findings"] = report.to_records()
    return doc


def _summary(report: Report) -> dict[str, Any]:
    # by_status/by_severity count every finding (an ignored line is still approximated);
    # ``ignored`` says how many of them a reviewed-findings rule accepted
    return {"total": len(report), "by_status": report.by_status(), "by_severity": report.by_severity(),
            "ignored": report.ignored()}


def dump_report_json_lines(report: Report, **header: Any) -> bytes:
    """``dump_json_lines(to_document(report, **header))`` as UTF-8, but each finding is made into a
    dict, encoded and dropped in turn instead of all 100,000 dicts living at once."""
    return b"".join(iter_report_json_lines(report, **header))


def iter_report_json_lines(report: Report, **header: Any) -> Iterator[bytes]:
    """``dump_report_json_lines`` in pieces of about CHUNK_ROWS findings, for a writer that streams."""
    doc: dict[str, Any] = dict(header)
    doc["summary"] = _summary(report)
    doc["findings"] = report.iter_records()
    return iter_json_lines(doc, "findings")


def dump_json(doc: Any) -> str:
    """Stable, indented JSON with a trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def dump_json_lines(doc: dict[str, Any], list_key: str = "findings") -> bytes:
    """UTF-8 JSON with ``doc[list_key]`` written one item per line (the C encoder, no indentation
    inside an item): as readable in a diff as indented JSON and an order of magnitude faster for
    100,000 findings. The header keys are indented as usual.

    Bytes, encoded row by row: one non-ASCII character anywhere would make a joined ``str`` of the
    whole 20 MB document take two bytes per character."""
    return b"".join(iter_json_lines(doc, list_key))


def iter_json_lines(doc: dict[str, Any], list_key: str = "findings") -> Iterator[bytes]:
    """``dump_json_lines`` in pieces of about CHUNK_ROWS items each (joined, they are its bytes)."""
    items = doc.get(list_key, [])  # any iterable: a generator is consumed once, item by item
    head = {k: v for k, v in doc.items() if k != list_key}
    # one encoder for every row: json.dumps(..., ensure_ascii=False) builds a new one per call
    encode = json.JSONEncoder(ensure_ascii=False).encode
    opening = "{\n  " if not head else json.dumps(head, indent=2, ensure_ascii=False)[:-2] + ",\n  "
    yield (opening + f'"{list_key}": [').encode()
    rows: list[str] = []
    sep = "\n    "
    for item in items:
        rows.append(sep)
        rows.append(encode(item))
        sep = ",\n    "
        if len(rows) >= 2 * CHUNK_ROWS:
            yield "".join(rows).encode()
            rows.clear()
    if rows:
        yield "".join(rows).encode()
    yield b"\n  ]\n}\n" if sep != "\n    " else b"]\n}\n"


CHUNK_ROWS = 2000  # rows per piece a streaming writer gets: few writes, a few hundred KB held


def dump_yaml(doc: Any) -> str:
    """Block-style YAML that keeps key order."""
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _md_cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report, *, title: str = "tinysquid report", include_exact: bool = True) -> str:
    """A Markdown report: a summary table, then one row per finding (exact lines optional)."""
    return "".join(iter_markdown(report, title=title, include_exact=include_exact))


def iter_markdown(report: Report, *, title: str = "tinysquid report", include_exact: bool = True) -> Iterator[str]:
    """``to_markdown`` in pieces of about CHUNK_ROWS rows each (joined, they are its text)."""
    lines = [f"# {title}", "", "| status | count |", "| --- | ---: |"]
    for status, count in report.by_status().items():
        lines.append(f"| {status} | {count} |")
    ignored = report.ignored()
    if ignored:
        lines += ["", f"{ignored} finding(s) ignored by reviewed-findings rules (marked below; "
                  "they do not fail `--strict`)."]
    lines += ["", "| where | code | status | message | consequence | hint |",
              "| --- | --- | --- | --- | --- | --- |"]
    for d in report:
        if not include_exact and d.status is Status.EXACT:
            continue
        verdict = str(d.status or d.severity)
        if d.ignored_by is not None:
            verdict += f" (ignored: {_md_cell(d.ignored_by['rule'])})"
        lines.append(
            f"| `{d.location()}` | {d.code} {d.name} | {verdict} | {_md_cell(d.message)} "
            f"| {_md_cell(d.consequence)} | {_md_cell(d.hint)} |"
        )
        if len(lines) >= CHUNK_ROWS:
            yield "\n".join(lines) + "\n"
            lines.clear()
    if lines:
        yield "\n".join(lines) + "\n"


def print_summary(report: Report, console: Any, *, title: str = "translation report",
                  show_exact: bool = False) -> None:
    """Print a rich summary table and the non-exact findings to ``console`` (normally stderr)."""
    from rich.markup import escape
    from rich.table import Table

    counts = report.by_status()
    if any(counts.values()):
        summary = Table(title=title, show_header=True, header_style="bold")
        summary.add_column("status")
        summary.add_column("lines", justify="right")
        for status in Status:
            summary.add_row(f"[{_STATUS_STYLE[status]}]{status}[/]", str(counts[str(status)]))
        console.print(summary)
    # ignored findings were reviewed: counted below, listed in report.json/report.md only
    rows = [d for d in report if (show_exact or d.status is not Status.EXACT) and d.ignored_by is None]
    # One finding per block, linter style: the location stays whole and copy-pasteable at any
    # terminal width, which a table column cannot promise. A code repeated on many lines (one per
    # filter entry) is shown PER_CODE times, then counted: every line is in report.json/report.md.
    shown: dict[str, int] = {}
    for d in rows:
        shown[d.code] = shown.get(d.code, 0) + 1
        if shown[d.code] > PER_CODE:
            continue
        style = _STATUS_STYLE.get(d.status, "red" if d.severity is Severity.ERROR else "")  # type: ignore[arg-type]
        label = str(d.status or d.severity)
        label = f"[{style}]{label}[/]" if style else label
        console.print(f"[bold]{escape(d.location())}[/]: {d.code} {label}: {escape(d.message)}")
        if d.consequence:
            console.print(f"    [dim]→ {escape(d.consequence)}[/]")
        if d.hint:
            console.print(f"    [dim]hint: {escape(d.hint)}[/]")


    for code, n in shown.items():
        if n > PER_CODE:
            console.print(f"[dim]… and {n - PER_CODE} more {code} findings (all of them are in report.md and "
                          "report.json)[/]")
    ignored = report.ignored()
    if ignored:
        console.print(f"[dim]{ignored} finding{'s' if ignored != 1 else ''} ignored by reviewed-findings "
                      "rules (marked in report.json and report.md; not counted by --strict)[/]")


PER_CODE = 20


def write_human(report: Report, stream: IO[str]) -> None:
    """Plain linter-style lines (``file:line:col: CODE severity: message [name]``), one per finding."""
    for d in report:
        stream.write(d.human() + "\n")
