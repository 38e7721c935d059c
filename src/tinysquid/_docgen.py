"""Generate the reference docs from the code's own tables: ``docs/codes.md`` (the diagnostic code
registry) and ``docs/support-matrix.md`` (the tinyproxy directive table). A test fails when the
committed files differ from what this module generates.

Regenerate with:  python -m tinysquid._docgen
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from tinysquid import documents
from tinysquid.diagnostics.codes import CODES

_RANGES = [
    ("0", "Input and options"),
    ("1", "tinyproxy grammar and semantics"),
    ("2", "Translation fidelity"),
    ("3", "Hardening"),
    ("4", "Legacy holes"),
    ("5", "verify"),
    ("6", "inventory-aws"),
    ("7", "plan-cutover"),
    ("8", "Equivalence proofs of translated patterns"),
    ("9", "Internal: tinysquid's own output failed a check"),
]


def _cell(text: object) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def codes_markdown() -> str:
    """``docs/codes.md``: every TSnnn with its name, severity, status, meaning and fix."""
    out = ["# Diagnostic codes", "",
           "Generated from `tinysquid.diagnostics.codes` by `python -m tinysquid._docgen`; do not edit.",
           "Every finding tinysquid prints carries one of these codes. Codes are stable: a code is never",
           "reused for another meaning.", ""]
    for digit, title in _RANGES:
        infos = [i for c, i in sorted(CODES.items()) if c[2] == digit]
        if not infos:
            continue
        out += [f"## TS{digit}xx — {title}", "",
                "| code | name | severity | status | what it means | why it matters | what to do |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for i in infos:
            out.append(f"| {i.code} | `{i.name}` | {i.severity} | {i.status or ''} | {_cell(i.what)} "
                       f"| {_cell(i.why)} | {_cell(i.fix)} |")
        out.append("")
    return "\n".join(out)


def support_matrix_markdown() -> str:
    """``docs/support-matrix.md``: every tinyproxy directive and how convert carries it over."""
    from tinysquid.tinyproxy.directives import DIRECTIVES

    out = ["# tinyproxy → squid support matrix", "",
           "Generated from `tinysquid.tinyproxy.directives.DIRECTIVES` by `python -m tinysquid._docgen`;",
           "do not edit. `convert` reports every line of your config with one of these statuses.", ""]
    fields = [f for f in ("name", "versions", "arguments", "support", "becomes", "note")
              if all(hasattr(d, f) for d in DIRECTIVES)]
    out.append("| " + " | ".join(fields) + " |")
    out.append("| " + " | ".join("---" for _ in fields) + " |")
    for d in sorted(DIRECTIVES, key=lambda d: d.name.lower()):
        row = []
        for f in fields:
            value = getattr(d, f)
            if isinstance(value, (tuple, list, set, frozenset)):
                value = ", ".join(str(v) for v in sorted(value, key=str))
            row.append(_cell(value))
        out.append("| " + " | ".join(row) + " |")
    counts: dict[str, int] = {}
    if "support" in fields:
        for d in DIRECTIVES:
            counts[str(d.support)] = counts.get(str(d.support), 0) + 1
        out += ["", "Totals: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), ""]
    return "\n".join(out) + ("\n" if out[-1] != "" else "")


def _schema_doc(kind: documents.Kind) -> Callable[[], str]:
    """docs/schemas/KIND.schema.json: what ``tinysquid schema KIND`` prints."""
    def make() -> str:
        return json.dumps(documents.json_schema(kind), indent=2, ensure_ascii=False) + "\n"
    return make


DOCS: dict[str, Callable[[], str]] = {
    "codes.md": codes_markdown, "support-matrix.md": support_matrix_markdown,
    **{f"schemas/{k}.schema.json": _schema_doc(k) for k in documents.Kind},
}


def main(docs_dir: Path | None = None) -> int:
    """Write every generated doc into ``docs_dir`` (default: the repository's ``docs/``)."""
    target = docs_dir or Path(__file__).resolve().parents[2] / "docs"
    target.mkdir(parents=True, exist_ok=True)
    for name, make in DOCS.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(make())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
