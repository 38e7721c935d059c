"""The in-cluster verify Job, run as its pod would run it — short of a cluster.

`verify --print-job` prints the ConfigMap and the Job; the test lays the ConfigMap's files out as
the kubelet mounts them (the Job's items), runs the container's own command and arguments (the
`sh -c` line, with `tinysquid` on PATH) against the real tinyproxy (the "old NLB") and the real
squid (the "Service") on loopback, and reads the log as `kubectl logs` would: stdout must be the
JSON document alone, the findings in the termination message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import REPO
from tinysquid.cli import app

pytestmark = pytest.mark.integration

runner = CliRunner()

TP_CONF = """\
Port 8888
Timeout 5
Allow 127.0.0.1
ConnectPort 443
Filter "@WORKDIR@/allow.filter"
FilterDefaultDeny Yes
"""
FILTER = "^api\\.example\\.com$\n"
SQ_CONF = """\
acl clients src 127.0.0.1
acl allowed_dst dstdom_regex -i ^api\\.example\\.com$
acl SSL_ports port 443
acl CONNECT method CONNECT
http_access deny !clients
http_access deny CONNECT !SSL_ports
http_access allow allowed_dst
http_access deny all
"""


def _run_pod(docs: list[dict], pod: Path) -> tuple[int, str, str]:
    """Lay out /inputs under ``pod`` and run the container as written; (exit, log, termination message)."""
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    spec = next(d for d in docs if d["kind"] == "Job")["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    inputs = pod / "inputs"
    for item in next(v for v in spec["volumes"] if v["name"] == "inputs")["configMap"]["items"]:
        target = inputs / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(cm["data"][item["key"]])
    bin_dir = pod / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "tinysquid"  # the image's entry point: this checkout's package
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tinysquid "$@"\n')
    shim.chmod(0o755)
    term = pod / "termination-log"
    command = [part.replace("/dev/termination-log", str(term)) for part in c["command"]]
    args = [a.replace("/inputs", str(inputs)) for a in c["args"]]
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": str(REPO / "src"), "HOME": str(pod),
           **{e["name"]: e["value"] for e in c["env"] if "value" in e and e["name"] != "HOME"}}
    proc = subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=120, check=False)
    return proc.returncode, proc.stdout, term.read_text() if term.exists() else ""


@pytest.mark.parametrize(("widen", "code"), [(False, 0), (True, 3)])
def test_the_jobs_container_runs_verify_and_logs_the_json_document(tinyproxy_bin, squid_bin, lab, tmp_path,
                                                                   widen, code):
    lab.hosts.update(["api.example.com", "probe.tinysquid.example", "www.api.example.com", "api.example.co"])
    lab.write("allow.filter", FILTER)
    conf = lab.write("tinyproxy.conf", TP_CONF)
    tp = lab.start_tinyproxy(TP_CONF)
    sq = lab.start_squid(SQ_CONF.replace("http_access deny CONNECT !SSL_ports\n", "") if widen else SQ_CONF)
    printed = runner.invoke(app, ["verify", "--old", tp.url, "--new", sq.url, "--config", str(conf),
                                  "--timeout", "4", "--deadline", "60", "--http-port", str(lab.origin_port),
                                  "--print-job"])
    assert printed.exit_code == 0, printed.output
    docs = list(yaml.safe_load_all(printed.stdout))
    got, log, message = _run_pod(docs, tmp_path)
    doc = json.loads(log)  # the whole log is the document: nothing else on stdout
    assert got == code, ([(p["request"], p["result"], p["old"], p["new"]) for p in doc["probes"]
                          if p["result"] != "agree"], message)  # the whole log is the document: nothing else on stdout
    assert doc["kind"] == "VerifyReport" and doc["summary"]["total"] > 0
    assert doc["summary"]["widened"] == (0 if not widen else doc["summary"]["widened"])
    if widen:
        assert doc["summary"]["widened"] > 0
        assert any(p["request"] == "CONNECT api.example.com:22" for p in doc["probes"] if p["result"] == "widened")
    # the probes came from the config as mounted in the pod
    assert any(line.startswith(f"{tmp_path}/inputs/") for p in doc["probes"] for line in p.get("lines", ()))
