"""Every TS7xx code is registered once, has its texts, and is raised somewhere in the plan package."""

from __future__ import annotations

from pathlib import Path

from tinysquid.diagnostics.codes import plan as plan_codes

PLAN_SRC = Path(__file__).resolve().parents[3] / "src" / "tinysquid" / "plan"


def test_plan_codes_are_in_range_and_documented():
    for info in plan_codes.CODES:
        assert info.code.startswith("TS7") and len(info.code) == 5
        assert info.name == info.name.lower() and " " not in info.name
        assert info.what and info.why and info.fix


def test_every_plan_code_is_raised_by_the_plan_package():
    text = "".join(p.read_text() for p in PLAN_SRC.rglob("*.py"))
    unused = [i.code for i in plan_codes.CODES if f'"{i.code}"' not in text]
    assert unused == []
