"""The shared diagnostics layer: registry, records, exit-code decision."""

from __future__ import annotations

import json

import pytest

from tinysquid.diagnostics import ExitCode, InputError, Report, Severity, Span, Status, render
from tinysquid.diagnostics.codes import CODES
from tinysquid.diagnostics.model import make


def test_codes_are_well_formed_and_unique():
    names = set()
    for code, info in CODES.items():
        assert code == info.code
        assert len(code) == 5 and code.startswith("TS") and code[2:].isdigit(), code
        assert info.name == info.name.lower() and " " not in info.name, info.name
        assert info.name not in names, f"duplicate name {info.name}"
        names.add(info.name)
        assert info.what and info.why, code


def test_make_defaults_from_registry_and_human_line():
    d = make("TS001", "no such file", source="test", span=Span("tp.conf", 12, 3))
    assert d.severity is Severity.ERROR
    assert d.hint  # default hint from the registry
    assert d.human() == "tp.conf:12:3: TS001 error: no such file [file-not-found]"


def test_unknown_code_is_a_bug():
    with pytest.raises(KeyError):
        make("TS999", "x", source="test")


def test_exit_code_strict_and_hardening():
    r = Report()
    r.add(make("TS200", "ok", source="t", span=Span("a", 1)))
    assert r.exit_code() is ExitCode.OK
    assert r.exit_code(strict=True) is ExitCode.OK
    r.add(make("TS200", "deliberate", source="t", subject="x", status=Status.HARDENING,
               severity=Severity.INFO))
    assert r.exit_code(strict=True) is ExitCode.OK, "hardening is the tool's own choice"
    r.add(make("TS200", "approx", source="t", span=Span("a", 2), status=Status.APPROXIMATED))
    assert r.exit_code() is ExitCode.OK
    assert r.exit_code(strict=True) is ExitCode.FINDINGS
    r.add(make("TS001", "broken", source="t", span=Span("a", 3)))
    assert r.exit_code() is ExitCode.BAD_INPUT


def test_records_sorted_and_json_ready():
    r = Report()
    r.add(make("TS200", "second", source="t", span=Span("a", 9)))
    r.add(make("TS200", "first", source="t", span=Span("a", 2)))
    r.add(make("TS004", "opt", source="t", subject="--x"))
    recs = r.to_records()
    assert [x["message"] for x in recs] == ["first", "second", "opt"]
    doc = render.to_document(r, schema_version=1)
    assert json.loads(render.dump_json(doc))["summary"]["by_status"]["exact"] == 2


def test_markdown_escapes_pipes():
    r = Report()
    r.add(make("TS200", "a|b", source="t", span=Span("a", 1)))
    assert "a\\|b" in render.to_markdown(r)


def test_input_error_carries_diagnostic():
    d = make("TS002", "binary", source="t", span=Span("x", 1))
    err = InputError(d)
    assert err.diagnostic is d and "x:1:1" in str(err)


def test_json_lines_is_the_same_document():
    r = Report()
    for n in range(3):
        r.add(make("TS200", f"line {n} \"q\" ü", source="t", span=Span("a", n + 1)))
    doc = render.to_document(r, schema_version=1, options={"x": [1, 2]})
    assert json.loads(render.dump_json_lines(doc)) == doc
    assert json.loads(render.dump_json_lines({"findings": []})) == {"findings": []}
    assert json.loads(render.dump_json_lines({"findings": [{"a": 1}]})) == {"findings": [{"a": 1}]}
