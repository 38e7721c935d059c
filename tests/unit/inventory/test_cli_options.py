"""Option validation happens before any AWS call: bad values exit 2 with a coded message."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tinysquid.cli import app


@pytest.mark.parametrize("args, code", [
    (["--tag", "Role"], "TS610"),
    (["--proxy-port", "0"], "TS610"),
    (["--monthly-gb", "-1"], "TS610"),
    (["--monthly-gb", "nan"], "TS610"),
    (["--monthly-gb", "inf"], "TS610"),
    (["--deadline", "0"], "TS610"),
    (["--deadline", "nan"], "TS610"),
    (["--endpoint-url", "notaurl"], "TS610"),
    (["--endpoint-url", "http://[::1"], "TS610"),
    (["--endpoint-url", "ftp://127.0.0.1:1"], "TS610"),
    (["--endpoint-url", "http://127.0.0.1:99999"], "TS610"),
    (["--pricing-endpoint-url", "nope"], "TS610"),
    (["--region", "eu-wset-1"], "TS616"),
    (["--region", "us-east-1", "--all-regions"], "TS610"),
])
def test_bad_options_exit_2(args, code):
    result = CliRunner().invoke(app, ["inventory-aws", *args])
    assert result.exit_code == 2
    assert code in result.stderr and "Traceback" not in result.output


def test_bad_prices_file_exit_2(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("regions: 3\n")
    result = CliRunner().invoke(app, ["inventory-aws", "--prices", str(f)])
    assert result.exit_code == 2 and "TS609" in result.stderr and str(f) in result.stderr


def test_unknown_profile_is_a_credentials_problem_exit_4(tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text("[default]\nregion = us-east-1\n")
    env = {"AWS_CONFIG_FILE": str(cfg), "AWS_SHARED_CREDENTIALS_FILE": str(cfg), "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": ""}
    result = CliRunner().invoke(app, ["inventory-aws", "--profile", "nope", "--endpoint-url", "http://127.0.0.1:9"],
                                env=env)
    assert result.exit_code == 4 and "TS601" in result.stderr and "nope" in result.stderr
