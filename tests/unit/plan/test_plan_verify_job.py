"""The in-cluster verify Job: `verify --print-job` and plan-cutover's phase 2.2 / `verify_job`.

Both manifests pass kubernetes-validate's strict schemas (1.31, 1.34); credentials never enter
them; the input files sit where the container's arguments look for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.integration._deploy_tools import load_strict, validate_strict
from tinysquid.cli import app
from tinysquid.diagnostics import InputError
from tinysquid.plan import job

runner = CliRunner()


def _conf(tmp_path: Path, filter_name: str) -> Path:
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(f'Port 8888\nConnectPort 443\nFilter "{filter_name}"\nFilterDefaultDeny Yes\n')
    return conf


def _container(docs: list[dict]) -> dict:
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert len(jobs) == 1
    return jobs[0]["spec"]["template"]["spec"]["containers"][0]


def _mounted(docs: list[dict]) -> dict[str, str]:
    """Path under /inputs → file content, as the kubelet would lay the ConfigMap out."""
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    spec = next(d for d in docs if d["kind"] == "Job")["spec"]["template"]["spec"]
    items = next(v for v in spec["volumes"] if v["name"] == "inputs")["configMap"]["items"]
    return {f"/inputs/{i['path']}": cm["data"][i["key"]] for i in items}


def test_print_job_is_strict_valid_and_keeps_credentials_out(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "etc/tinyproxy").mkdir(parents=True)
    (root / "etc/tinyproxy/filter").write_text("^api\\.example\\.com$\n")
    conf = _conf(tmp_path, "/etc/tinyproxy/filter")
    expect = tmp_path / "expect.json"
    expect.write_text('{"apiVersion": "tinysquid/v1"}\n')
    monkeypatch.setenv("NEW_AUTH", "alice:s3cr3t-new")
    result = runner.invoke(app, ["verify", "--old", "http://bob:s3cr3t-old@tinyproxy-nlb.internal.example:8888", "--new",
                                 "http://squid.egress.svc.cluster.local:3128", "--config", str(conf), "--root",
                                 str(root), "--expect", str(expect), "--new-auth", "env:NEW_AUTH", "--print-job",
                                 "--job-namespace", "egress", "--job-image", "registry.example/tinysquid:1"])
    assert result.exit_code == 0, result.output
    assert "s3cr3t" not in result.stdout
    docs = load_strict(result.stdout)
    assert [d["kind"] for d in docs] == ["ConfigMap", "Job"]
    validate_strict(docs)
    c = _container(docs)
    assert c["image"] == "registry.example/tinysquid:1"
    args = c["args"]
    assert args[:4] == ["--old", "http://tinyproxy-nlb.internal.example:8888", "--new", "http://squid.egress.svc.cluster.local:3128"]
    assert args[-2:] == ["-o", "json"]
    assert args[args.index("--old-auth") + 1] == "env:OLD_PROXY_AUTH"
    assert args[args.index("--new-auth") + 1] == "env:NEW_PROXY_AUTH"
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if "valueFrom" in e}
    assert refs == {"OLD_PROXY_AUTH": {"name": job.AUTH_SECRET, "key": "old"},
                    "NEW_PROXY_AUTH": {"name": job.AUTH_SECRET, "key": "new"}}
    files = _mounted(docs)
    assert files[args[args.index("--config") + 1]] == conf.read_text()
    assert files[args[args.index("--expect") + 1]] == expect.read_text()
    # the absolute Filter path, under --root, is where the front end will look for it
    assert files[args[args.index("--root") + 1] + "/etc/tinyproxy/filter"] == "^api\\.example\\.com$\n"
    spec = docs[1]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == job.UID
    assert spec["restartPolicy"] == "Never" and docs[1]["spec"]["backoffLimit"] == 0
    assert docs[1]["metadata"]["namespace"] == docs[0]["metadata"]["namespace"] == "egress"
    # stdout is the log (the JSON document); stderr the termination message
    assert c["command"][:2] == ["sh", "-c"] and "2>/dev/termination-log" in c["command"][2]


def test_relative_filter_sits_beside_the_config_and_climbing_out_is_refused(tmp_path):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists/allow").write_text("^a\\.example$\n")
    conf = _conf(tmp_path, "lists/allow")
    result = runner.invoke(app, ["verify", "--old", "http://tinyproxy-nlb.internal.example:8888", "--new", "http://squid.squid.svc:3128",
                                 "--config", str(conf), "--print-job"])
    assert result.exit_code == 0, result.output
    docs = load_strict(result.stdout)
    args = _container(docs)["args"]
    assert "--root" not in args
    assert _mounted(docs)["/inputs/lists/allow"] == "^a\\.example$\n"
    with pytest.raises(InputError) as exc:
        job.plan_job(namespace="squid", image="i", old=["http://o:1"], new="http://n:2", config=conf,
                     filter_name="../outside", filter_local=conf)
    assert exc.value.diagnostic.code == "TS712"


def test_inputs_over_a_configmap_are_refused(tmp_path):
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * (job.CONFIGMAP_LIMIT + 1))
    plan = job.plan_job(namespace="squid", image="i", old=["http://o:1"], new="http://n:2", from_log=[big])
    with pytest.raises(InputError) as exc:
        job.inputs_configmap(plan, version="0")
    assert exc.value.diagnostic.code == "TS713"


def test_a_bad_proxy_url_is_refused_before_printing(tmp_path):
    conf = _conf(tmp_path, "f")
    (tmp_path / "f").write_text("x\n")
    result = runner.invoke(app, ["verify", "--old", "ftp://tinyproxy-nlb.internal.example:21", "--new", "http://n:3128", "--config",
                                 str(conf), "--print-job"])
    assert result.exit_code == 2 and "TS504" in result.output and "apiVersion" not in result.stdout


def test_plan_cutover_writes_the_job_into_runbook_and_json(tmp_path, monkeypatch):
    from tests.unit.plan._planfix import CASES

    (tmp_path / "allow").write_text("^a\\.example$\n")
    conf = _conf(tmp_path, str(tmp_path / "allow"))
    monkeypatch.chdir(CASES)
    base = ["plan-cutover", "--inventory", "inventory.json", "--values", "values.yaml", "--config", str(conf),
            "--cluster-dump", "dumps/healthy", "--job-image", "registry.example/tinysquid:2"]
    result = runner.invoke(app, [*base, "-o", "json"])
    assert result.exit_code in (0, 1, 4), result.output
    doc = json.loads(result.stdout)
    manifest = doc["verify_job"]
    validate_strict([manifest])
    c = manifest["spec"]["template"]["spec"]["containers"][0]
    assert c["image"] == "registry.example/tinysquid:2"
    args = c["args"]
    old = args[args.index("--old") + 1]
    assert ".elb." in old  # the old NLB, from the inventory
    assert args[args.index("--new") + 1] == doc["summary"]["squid_url"]
    items = {i["key"]: i["path"] for i in manifest["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"]}
    assert items["filter"] == "root" + str(tmp_path / "allow")
    step = next(s for p in doc["phases"] for s in p["steps"] if s["id"] == "2.2")
    assert f"--from-file=tinyproxy.conf={conf}" in step["command"][0]
    assert f"--from-file=filter={tmp_path / 'allow'}" in step["command"][0]
    md = runner.invoke(app, base).stdout
    block = md.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert load_strict(block) == [manifest]
