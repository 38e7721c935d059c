"""The `convert` command as a seam: options reach the core, exit codes, stdout stays clean, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinysquid import convert as core
from tinysquid._fs import OutputFile
from tinysquid.cli import app
from tinysquid.diagnostics import InputError, Report, Span, Status
from tinysquid.diagnostics.model import make

runner = CliRunner()


def _fake_result(status: Status = Status.EXACT) -> core.ConvertResult:
    report = Report()
    report.add(make("TS200", "Port 8888 → http_port 8888", source="test", span=Span("tp.conf", 1),
                    status=status))
    result = core.ConvertResult(report=report)
    result.files = {
        "squid.conf": OutputFile("http_port 8888\nhttp_access deny all\n"),
        "values.yaml": OutputFile("replicaCount: 2\n"),
        "report.json": OutputFile(json.dumps({"findings": report.to_records()}) + "\n"),
        "report.md": OutputFile("# report\n"),
    }
    return result


@pytest.fixture
def captured(monkeypatch):
    seen: dict = {}

    def fake_convert_file(path, options):
        seen["path"], seen["options"] = Path(path), options
        return seen.get("result") or _fake_result()

    monkeypatch.setattr(core, "convert_file", fake_convert_file)
    return seen


def test_options_reach_the_core(tmp_path, captured):
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", "tp.conf", "--out-dir", str(out), "--squid-version", "5",
                                 "--chart-version", "0.7", "--tinyproxy-version", "1.8",
                                 "--no-harden", "--tighten", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    opts = captured["options"]
    assert (opts.squid_version, opts.chart_version, opts.tinyproxy_version) == ("5", "0.7", "1.8")
    assert opts.harden is False and opts.tighten is True and opts.root == tmp_path
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md", "squid.conf", "values.yaml"]


def test_bad_option_value_is_exit_2_without_traceback(tmp_path, captured):
    result = runner.invoke(app, ["convert", "tp.conf", "--out-dir", str(tmp_path / "o"), "--squid-version", "4"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "--squid-version" in result.output
    assert "options" not in captured


def test_json_format_keeps_stdout_a_single_document(tmp_path, captured):
    result = runner.invoke(app, ["convert", "tp.conf", "--out-dir", str(tmp_path / "o"), "-o", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["findings"][0]["code"] == "TS200"


def test_strict_exit_1_on_inexact_line(tmp_path, captured):
    captured["result"] = _fake_result(Status.APPROXIMATED)
    loose = runner.invoke(app, ["convert", "tp.conf", "--out-dir", str(tmp_path / "a")])
    strict = runner.invoke(app, ["convert", "tp.conf", "--out-dir", str(tmp_path / "b"), "--strict"])
    assert loose.exit_code == 0
    assert strict.exit_code == 1
    assert (tmp_path / "b" / "squid.conf").exists(), "--strict still writes the conversion"


def test_non_empty_out_dir_needs_force(tmp_path, captured):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    refused = runner.invoke(app, ["convert", "tp.conf", "--out-dir", str(out)])
    assert refused.exit_code == 2 and "--force" in refused.output
    assert (out / "keep.txt").read_text() == "mine"
    forced = runner.invoke(app, ["convert", "tp.conf", "--out-dir", str(out), "--force"])
    assert forced.exit_code == 0
    assert not (out / "keep.txt").exists() and (out / "squid.conf").exists()


def test_input_error_names_file_line_col_and_writes_nothing(tmp_path, monkeypatch):
    def broken(path, options):
        raise InputError(make("TS001", "Filter file /etc/tinyproxy/filter not found", source="test",
                              span=Span("tp.conf", 7, 8)))

    monkeypatch.setattr(core, "convert_file", broken)
    out = tmp_path / "out"
    result = runner.invoke(app, ["convert", "tp.conf", "--out-dir", str(out)])
    assert result.exit_code == 2
    assert "tp.conf:7:8: TS001" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_validate_rejects_broken_output(tmp_path, captured):
    from tests.conftest import require_binary

    require_binary("squid")
    bad = _fake_result()
    bad.files["squid.conf"] = OutputFile("http_port 3128\nacl x dstdomain .a.example a.a.example\n"
                                         "read_timeout 600\nhttp_access deny all\n")
    captured["result"] = bad
    out = tmp_path / "o"
    result = runner.invoke(app, ["convert", "tp.conf", "--out-dir", str(out), "--validate"])
    assert result.exit_code == 2, result.output
    assert "TS901" in result.output
    assert not out.exists()
