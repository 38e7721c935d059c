"""The IAM policy is built from collect.ACTIONS, read-only, and the collector refuses anything else."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from tinysquid.cli import app
from tinysquid.inventory import collect, iam

READ = re.compile(r"^(Describe|List|Get)[A-Z]")


def test_policy_is_exactly_the_action_list_and_read_only():
    doc = iam.policy_document()
    (stmt,) = doc["Statement"]
    assert doc["Version"] == "2012-10-17" and stmt["Effect"] == "Allow" and stmt["Resource"] == "*"
    assert stmt["Action"] == sorted({f"{s.iam}:{a}" for s, a in collect.ACTIONS})
    assert all(READ.match(a.split(":", 1)[1]) for a in stmt["Action"])
    assert "elasticloadbalancing:DescribeTargetHealth" in stmt["Action"]  # IAM prefix, not the boto3 name


def test_print_iam_policy_needs_no_credentials_and_no_boto3_session():
    result = CliRunner().invoke(app, ["inventory-aws", "--print-iam-policy"], env={"AWS_ACCESS_KEY_ID": ""})
    assert result.exit_code == 0
    assert json.loads(result.stdout) == iam.policy_document()


def test_collector_refuses_an_action_not_in_the_list():
    caller = collect.Caller(session=None, region="us-east-1")
    with pytest.raises(AssertionError, match=r"not in inventory\.collect\.ACTIONS"):
        caller.call(collect.EC2, "TerminateInstances", "TerminatingInstances")


def test_no_mutating_boto3_method_is_named_in_the_package():
    from pathlib import Path

    import tinysquid.inventory as pkg

    mutating = re.compile(r"\.(create|delete|modify|put|update|attach|detach|associate|disassociate|run|terminate|"
                          r"start|stop|release|allocate|register|deregister|change|authorize|revoke)_[a-z_]+\(")
    for path in Path(pkg.__file__).parent.glob("*.py"):
        assert not mutating.search(path.read_text()), path.name


def test_lean_ec2_model_holds_exactly_the_listed_ec2_actions(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    session = collect.lean_session()
    client = session.client("ec2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    wanted = {a for s, a in collect.ACTIONS if s is collect.EC2}
    assert set(client.meta.service_model.operation_names) == wanted
    assert client.can_paginate("describe_instances")  # paginators still come from botocore
    assert list(tmp_path.glob("tinysquid/models/*/ec2/*/service-2.json"))


def test_lean_session_falls_back_to_botocore_when_the_cache_cannot_be_written(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    client = collect.lean_session().client("ec2", region_name="eu-west-1", aws_access_key_id="x",
                                           aws_secret_access_key="y")
    assert len(client.meta.service_model.operation_names) > 100
