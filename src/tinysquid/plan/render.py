"""The runbook as Markdown (the jinja2 template ``templates/runbook.md.j2``) and as JSON."""

from __future__ import annotations

import json
from typing import Any

from tinysquid.plan import diagrams, job
from tinysquid.plan.build import Plan, plan_document


def _cell(text: Any) -> str:
    """One Markdown table cell: pipes escaped, newlines flattened."""
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


TABLE_EVIDENCE = 3


def _evidence(items: list[str]) -> str:
    """A check's evidence for the summary table: the first few items (phase 0 lists them all)."""
    shown = "; ".join(items[:TABLE_EVIDENCE])
    more = len(items) - TABLE_EVIDENCE
    return _cell(shown + (f"; (+{more} more in phase 0)" if more > 0 else ""))


def to_json(plan: Plan, *, version: str) -> str:
    """The plan document as indented JSON with a trailing newline."""
    return json.dumps(plan_document(plan, version=version), indent=2, ensure_ascii=False) + "\n"


def to_markdown(plan: Plan, *, version: str) -> str:
    """The runbook as Markdown."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("tinysquid.plan", "templates"),
                             autoescape=False, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["cell"] = _cell
    env.filters["evidence"] = _evidence
    doc = plan_document(plan, version=version)
    pictures = {"timeline": diagrams.timeline(doc["phases"]),
                "egress": diagrams.egress_change(doc["egress"], plan.inputs.inventory)}
    job_yaml = job.to_yaml([plan.verify_job]) if plan.verify_job else ""
    text = env.get_template("runbook.md.j2").render(doc=doc, plan=plan, diagrams=pictures, job_yaml=job_yaml)
    # Collapse the blank-line runs the template's conditionals leave behind.
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text
