"""The CLI surface: every command is listed; unfinished ones say so with exit 2."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from tinysquid.cli import app

runner = CliRunner()


def test_help_lists_all_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("convert", "verify", "inventory-aws", "plan-cutover"):
        assert cmd in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("tinysquid ")


def test_convert_does_not_import_aws_or_kubernetes():
    code = ("import sys, tinysquid.cli, tinysquid.convert;"
            "bad=[m for m in ('boto3','botocore','kubernetes') if m in sys.modules];"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_verify_missing_input_file_is_a_clean_exit_2(tmp_path):
    for flag in ("--targets", "--from-log", "--config"):
        result = runner.invoke(app, ["verify", "--old", "http://127.0.0.1:9", "--new", "http://127.0.0.1:9",
                                     flag, str(tmp_path / "missing")])
        assert result.exit_code == 2, (flag, result.output)
        assert ("TS001" in result.output and result.exception is None) or isinstance(result.exception, SystemExit)
