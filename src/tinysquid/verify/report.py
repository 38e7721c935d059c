"""JUnit XML (one testcase per probe, a failure per widened/narrowed/changed, an error per error)
and Markdown (a PR comment: the summary, latencies and every non-agreeing probe)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from tinysquid.verify.model import Summary

_FAIL = {"widened", "narrowed", "changed"}


def _answers(rec: dict[str, Any]) -> str:
    parts = [f"{a['proxy']}={answer_summary(a)}" for a in rec["old"]]
    parts.append(f"new={answer_summary(rec['new'])}")
    return "; ".join(parts)


def answer_summary(a: dict[str, Any]) -> str:
    """One proxy's answer in a few words (status, class, squid's error, route), as every report shows it."""
    if a["class"] == "error":
        return f"error ({a.get('error', 'bad answer')})"
    if a["class"] == "ambiguous":
        return f"{a['status']} ambiguous ({a.get('note', 'author unknown')})"
    extra = f" {a['x_squid_error']}" if a.get("x_squid_error") else ""
    route = f" via {a['route']}" if a.get("route") else ""
    why = f" ({a['note']})" if a.get("note") and a.get("answered_by") == "origin" else ""
    return f"{a['status']} {a['class']}{extra}{route}{why}"


def write_junit(out: IO[str], summary: Summary, records: Iterable[dict[str, Any]]) -> None:
    """A JUnit document (streamed); the suite counts come from ``summary``."""
    failures = summary.widened + summary.narrowed + summary.changed
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<testsuites><testsuite name="tinysquid verify" tests="{summary.total}" '
              f'failures="{failures}" errors="{summary.errors}" skipped="0">\n')
    for rec in records:
        name = quoteattr(rec["request"])
        out.write(f'  <testcase classname={quoteattr("verify." + rec["source"])} name={name}>')
        result = rec["result"]
        detail = escape(f"{rec.get('why', '')}: {_answers(rec)}")
        if result in _FAIL:
            out.write(f'<failure type={quoteattr(result)} message={quoteattr(result + ": " + _answers(rec))}>'
                      f"{detail}</failure>")
        elif result == "error":
            out.write(f'<error type="error" message={quoteattr(_answers(rec))}>{detail}</error>')
        elif result in ("noisy", "intended"):
            out.write(f"<system-out>{result}: {detail}</system-out>")
        out.write("</testcase>\n")
    out.write("</testsuite></testsuites>\n")


def write_markdown(out: IO[str], summary: Summary, records: Iterable[dict[str, Any]], *,
                   old: list[str], new: str, complete: bool) -> None:
    """A Markdown report for a PR comment."""
    c = summary.counts()
    out.write(f"## tinysquid verify: {', '.join(old)} → {new}\n\n")
    out.write("| total | agree | widened | narrowed | changed | noisy | intended | errors |\n"
              "|---|---|---|---|---|---|---|---|\n")
    out.write("| " + " | ".join(str(c[k]) for k in ("total", "agree", "widened", "narrowed", "changed",
                                                        "noisy", "intended", "errors")) + " |\n\n")
    if not complete:
        out.write("**Incomplete run**: not every probe was sent.\n\n")
    lat = summary.latency()
    if lat:
        out.write("| proxy | p50 ms | p95 ms |\n|---|---|---|\n")
        for name, v in lat.items():
            out.write(f"| {name} | {v['p50']} | {v['p95']} |\n")
        out.write("\n")
    rows = [r for r in records if r["result"] != "agree"]
    if rows:
        out.write("| result | request | old | new | why |\n|---|---|---|---|---|\n")
        for r in rows:
            olds = "<br>".join(answer_summary(a) for a in r["old"])
            out.write(f"| **{r['result']}** | `{r['request']}` | {olds} | {answer_summary(r['new'])} | "
                      f"{r.get('why', '').replace('|', '/')} |\n")
    else:
        out.write("Every probe agrees.\n")
