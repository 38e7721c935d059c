"""Reviewed findings end to end: tinysquid.toml / [tool.tinysquid] and --ignore on a real conversion.

Nothing is faked: the real convert runs (front end, back ends, proof) on a small config whose
findings are known, and the exit codes are those of the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinysquid import documents, project
from tinysquid.cli import app
from tinysquid.diagnostics import InputError

runner = CliRunner()

CONF = 'Port 8888\nListen 127.0.0.1\nFilter "allow.list"\nFilterDefaultDeny Yes\nFilterExtended On\n'
ALLOW = "example\\.com\n^api\\.example\\.org$\n"
# every non-exact, non-hardening finding of CONF (what --strict counts)
REVIEWED = ["TS293:allow.list", "TS401", "TS274:tinyproxy.conf:2"]


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    (tmp_path / "tinyproxy.conf").write_text(CONF)
    (tmp_path / "allow.list").write_text(ALLOW)
    sub = tmp_path / "ci"
    sub.mkdir()
    monkeypatch.chdir(sub)  # the config is looked up from the cwd through its parents
    return tmp_path


def _convert(proj: Path, *extra: str):
    out = proj / "out"
    result = runner.invoke(app, ["convert", str(proj / "tinyproxy.conf"), "--out-dir", str(out), "--force",
                                 "--root", str(proj), "--strict", *extra])
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else None
    return result, report


def _toml(rules: list[str]) -> str:
    return "ignore = [\n" + "".join(f'  "{r}",\n' for r in rules) + "]\n"


def test_strict_fails_before_review_and_passes_after(proj):
    result, report = _convert(proj)
    assert result.exit_code == 1, result.output
    (proj / "tinysquid.toml").write_text(_toml(REVIEWED))
    result, report = _convert(proj)
    assert result.exit_code == 0, result.output
    ignored = [f for f in report["findings"] if f.get("ignored")]
    assert {f["code"] for f in ignored} == {"TS293", "TS401", "TS274"}
    assert report["summary"]["ignored"] == len(ignored) == 4  # TS293 on both filter lines
    listen = next(f for f in ignored if f["code"] == "TS274")
    assert listen["ignored_by"]["rule"] == "TS274:tinyproxy.conf:2"
    assert listen["ignored_by"]["source"] == "../tinysquid.toml:4"  # relative to the cwd (ci/)
    assert report["options"]["ignore"] == REVIEWED
    assert "4 findings ignored" in result.output
    assert "TS401" not in result.output  # reviewed: counted on the terminal, listed in the reports
    md = (proj / "out" / "report.md").read_text()
    assert "(ignored: TS401)" in md
    documents.parse(report, documents.Kind.CONVERT_REPORT, where="report.json")


def test_cli_ignore_adds_to_the_config(proj):
    (proj / "tinysquid.toml").write_text(_toml(REVIEWED[:2]))
    result, _ = _convert(proj)
    assert result.exit_code == 1
    result, report = _convert(proj, "--ignore", "TS274:tinyproxy.conf:2")
    assert result.exit_code == 0, result.output
    listen = next(f for f in report["findings"] if f["code"] == "TS274")
    assert listen["ignored_by"] == {"rule": "TS274:tinyproxy.conf:2", "source": "--ignore"}


def test_a_rule_on_the_wrong_line_ignores_nothing_and_warns(proj):
    result, report = _convert(proj, *[a for r in REVIEWED[:2] for a in ("--ignore", r)],
                              "--ignore", "TS274:tinyproxy.conf:1")
    assert result.exit_code == 1
    unused = [f for f in report["findings"] if f["code"] == "TS023"]
    assert [(f["severity"], f["subject"]) for f in unused] == [("warning", "--ignore TS274:tinyproxy.conf:1")]


def test_pyproject_tool_table(proj):
    (proj / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.ruff.lint]\nignore = ["E501"]\n\n'
                                         "[tool.tinysquid]\n" + _toml(REVIEWED))
    result, report = _convert(proj)
    assert result.exit_code == 0, result.output
    rule = next(f for f in report["findings"] if f["code"] == "TS401")["ignored_by"]
    assert rule["source"] == "../pyproject.toml:10"  # the line of "TS401", not ruff's ignore


def test_nearest_config_wins_and_a_pyproject_without_our_table_is_skipped(proj):
    (proj / "tinysquid.toml").write_text(_toml(["TS401"]))
    (proj / "ci" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert project.find_config(proj / "ci") == proj / "tinysquid.toml"
    (proj / "ci" / "tinysquid.toml").write_text(_toml([]))
    assert project.find_config(proj / "ci") == proj / "ci" / "tinysquid.toml"


@pytest.mark.parametrize(("text", "where", "code", "says"), [
    ('ignore = ["TS401",\n  oops\n]\n', "tinysquid.toml:2:", "TS024", "not valid TOML"),
    ('ignores = ["TS401"]\n', "tinysquid.toml:1:", "TS024", "unknown key ignores"),
    ('# reviewed\nignore = "TS401"\n', "tinysquid.toml:2:", "TS024", "must be a list of strings"),
    ('ignore = [\n  "TS401",\n  "TS4O1",\n]\n', "tinysquid.toml:3:", "TS025", "is not CODE"),
    ('ignore = [\n  "TS106",\n]\n', "tinysquid.toml:2:", "TS025", "errors cannot be ignored"),
])
def test_bad_config_is_exit_2_naming_file_and_line(proj, text, where, code, says):
    (proj / "tinysquid.toml").write_text(text)
    with pytest.raises(InputError) as exc:
        project.load(proj / "ci")
    assert exc.value.diagnostic.code == code
    assert where in exc.value.diagnostic.human() and says in exc.value.diagnostic.message
    result, _ = _convert(proj)
    assert result.exit_code == 2
    assert where in result.output and "Traceback" not in result.output
    assert not (proj / "out").exists()  # refused before any work


def test_bad_cli_rule_is_exit_2(proj):
    result, _ = _convert(proj, "--ignore", "TS999")
    assert result.exit_code == 2
    assert "--ignore: TS025" in result.output


def test_the_schema_names_the_new_fields():
    finding = documents.json_schema(documents.Kind.CONVERT_REPORT)["properties"]["findings"]["items"]
    assert {"ignored", "ignored_by"} <= set(finding["properties"])


def test_help_names_both_config_files_and_the_option():
    result = runner.invoke(app, ["convert", "--help"], env={"COLUMNS": "250", "TERM": "dumb"})
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "tinysquid.toml (or [tool.tinysquid] in pyproject.toml)" in text  # not eaten as rich markup
    assert "--ignore" in text and "CODE[:FILE[:LINE]]" in text


def test_each_rule_is_located_on_its_own_line(tmp_path):
    (tmp_path / "tinysquid.toml").write_text('# reviewed 2026-12\nignore = ["TS401",\n  "TS257:a.list",\n'
                                             '  "TS257:a.list", "TS404",\n]\n')
    specs = project.read(tmp_path / "tinysquid.toml").ignore
    assert [(s.rule, s.line) for s in specs] == [("TS401", 2), ("TS257:a.list", 3), ("TS257:a.list", 4),
                                                ("TS404", 4)]
