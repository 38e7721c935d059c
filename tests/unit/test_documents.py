"""Typed, versioned documents (#11): every command's JSON carries apiVersion + kind, validates against
the model it is read through and against the JSON Schema generated from that model; plan-cutover
refuses a document of the wrong kind, version or shape with exit 2 and the file plus JSON path."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinysquid import documents
from tinysquid.cli import app
from tinysquid.diagnostics import ExitCode, InputError
from tinysquid.documents import Kind

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "cases" / "plan"
runner = CliRunner()


def _convert_docs() -> dict[Kind, dict]:
    from tinysquid.convert import ConvertOptions, convert_file

    result = convert_file(REPO / "examples" / "egress-allowlist" / "tinyproxy.conf", ConvertOptions())
    return {Kind.CONVERT_REPORT: json.loads(result.files["report.json"].data),
            Kind.EXPECTATIONS: json.loads(result.files["expect.json"].data)}


def _verify_doc() -> dict:
    from tinysquid.verify.model import Summary, write_document

    buf = io.StringIO()
    write_document(buf, proxies={"old": ["http://o:1"], "new": "http://n:2"}, summary=Summary(), complete=True,
                   deadline_hit=False, records=[])
    return json.loads(buf.getvalue())


def _plan_doc() -> dict:
    result = runner.invoke(app, ["plan-cutover", "--inventory", str(CASES / "inventory.json"), "-o", "json"])
    return json.loads(result.stdout)


def _inventory_doc() -> dict:
    from tests.unit.inventory.test_document import doc

    return doc.__wrapped__()  # the fixture's function


@pytest.fixture(scope="module")
def written() -> dict[Kind, dict]:
    return {**_convert_docs(), Kind.VERIFY_REPORT: _verify_doc(), Kind.CUTOVER_PLAN: _plan_doc(),
            Kind.INVENTORY: _inventory_doc()}


@pytest.mark.parametrize("kind", list(Kind))
def test_every_written_document_names_its_kind_and_reads_back_through_its_model(written, kind):
    doc = written[kind]
    assert list(doc)[:3] == ["apiVersion", "kind", "schema_version"]
    assert doc["apiVersion"] == "tinysquid/v1" and doc["kind"] == str(kind) and documents.kind_of(doc) is kind
    assert isinstance(documents.parse(doc, kind, where="doc"), documents.MODELS[kind])


@pytest.mark.parametrize("kind", list(Kind))
def test_every_written_document_fits_its_generated_json_schema(written, kind):
    jsonschema = pytest.importorskip("jsonschema")
    schema = documents.json_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(written[kind], schema)
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail: a document of another kind
        jsonschema.validate({**written[kind], "kind": "Other"}, schema)


@pytest.mark.parametrize("kind", list(Kind))
def test_a_document_of_each_other_kind_is_refused(written, kind):
    for other in Kind:
        if other is not kind:
            with pytest.raises(InputError) as err:
                documents.parse(written[other], kind, where="f.json")
            assert err.value.diagnostic.code == "TS008" and "$.kind" in err.value.diagnostic.message


def test_wrong_shape_names_the_json_path():
    doc = _verify_doc()
    doc["summary"]["widened"] = "0"
    with pytest.raises(InputError) as err:
        documents.parse(doc, Kind.VERIFY_REPORT, where="v.json")
    d = err.value.diagnostic
    assert d.code == "TS009" and d.subject == "v.json"
    assert d.message == "$.summary.widened: expected integer, got string"
    doc["summary"]["widened"] = 0
    del doc["probes"]
    with pytest.raises(InputError, match=r"\$\.probes: missing"):
        documents.parse(doc, Kind.VERIFY_REPORT, where="v.json")


def test_another_api_version_is_refused_and_a_pre_v1_document_is_read():
    doc = _verify_doc()
    with pytest.raises(InputError, match="is not 'tinysquid/v1'"):
        documents.parse({**doc, "apiVersion": "tinysquid/v2"}, Kind.VERIFY_REPORT, where="v.json")
    legacy = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
    assert documents.parse(legacy, Kind.VERIFY_REPORT, where="v.json").summary.total == 0
    with pytest.raises(InputError, match=r"\$\.apiVersion: missing"):
        documents.parse({**legacy, "schema_version": 7}, Kind.VERIFY_REPORT, where="v.json")


def test_plan_refuses_an_inventory_passed_as_verify_report_with_exit_2(written, tmp_path):
    inv = tmp_path / "inventory.json"
    inv.write_text(json.dumps(written[Kind.INVENTORY]))
    result = runner.invoke(app, ["plan-cutover", "--verify-report", str(inv)])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert f"{inv} (--verify-report)" in result.output and "TS008" in result.output
    assert "'Inventory' document, expected 'VerifyReport'" in result.output


def test_plan_refuses_a_pre_v1_inventory_as_verify_report_by_its_shape():
    result = runner.invoke(app, ["plan-cutover", "--verify-report", str(CASES / "inventory.json")])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "TS009" in result.output and "$.summary: missing" in result.output


def test_plan_refuses_a_mistyped_inventory_field_with_exit_2_not_70(tmp_path):
    doc = json.loads((CASES / "inventory.json").read_text())
    doc["elastic_ips"] = {"public_ip": "198.51.100.7"}
    bad = tmp_path / "inv.json"
    bad.write_text(json.dumps(doc))
    result = runner.invoke(app, ["plan-cutover", "--inventory", str(bad)])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "$.elastic_ips: expected array, got object" in result.output


@pytest.mark.parametrize("kind", list(Kind))
def test_schema_command_prints_each_kind(kind):
    result = runner.invoke(app, ["schema", str(kind)])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == documents.json_schema(kind)


def test_schema_command_without_kind_prints_all():
    result = runner.invoke(app, ["schema"])
    assert sorted(json.loads(result.stdout)) == sorted(str(k) for k in Kind)
