"""plan-cutover through the real ``kubernetes`` client against a local server answering like the API.

No Kubernetes API server can run here, so a ThreadingHTTPServer on 127.0.0.1 serves the list
endpoints the client calls (``/apis/apps/v1/deployments``, ``/api/v1/pods``, …) from the JSON
fixtures in ``tests/cases/plan/api/`` (API-shaped typed Lists), paginating them one item per page
with ``metadata.continue`` so the client's pagination is exercised. The client is reached through a
generated kubeconfig with a bearer token; the server records every request so the test can prove
the command only ever reads (GET).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

API = Path(__file__).resolve().parents[1] / "cases" / "plan" / "api"
CASES = API.parent

ROUTES = {
    "/apis/apps/v1/deployments": "deployments",
    "/apis/apps/v1/replicasets": "replicasets",
    "/apis/apps/v1/statefulsets": "statefulsets",
    "/apis/apps/v1/daemonsets": "daemonsets",
    "/api/v1/pods": "pods",
    "/api/v1/nodes": "nodes",
    "/api/v1/services": "services",
    "/api/v1/configmaps": "configmaps",
    "/apis/policy/v1/poddisruptionbudgets": "poddisruptionbudgets",
    "/apis/discovery.k8s.io/v1/endpointslices": "endpointslices",
    "/apis/batch/v1/cronjobs": "cronjobs",
    "/apis/batch/v1/jobs": "jobs",
}
TOKEN = "plan-test-token"


class FakeApi(ThreadingHTTPServer):
    """The fake API server's state: which fixture routes are forbidden, and the requests seen."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.forbidden: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []


class _Handler(BaseHTTPRequestHandler):
    server: FakeApi

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, code: int, doc: dict) -> None:
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _status(self, code: int, reason: str, message: str) -> None:
        self._send(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": message, "reason": reason, "code": code})

    def do_GET(self) -> None:
        url = urlparse(self.path)
        self.server.requests.append(("GET", url.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._status(401, "Unauthorized", "Unauthorized")
        name = ROUTES.get(url.path)
        if name is None:
            return self._status(404, "NotFound", f"the server could not find the requested resource {url.path}")
        if name in self.server.forbidden:
            return self._status(403, "Forbidden", f'{name} is forbidden: User "plan" cannot list resource '
                                                  f'"{name}" at the cluster scope')
        doc = json.loads((API / f"{name}.json").read_text())
        start = int(parse_qs(url.query).get("continue", ["0"])[0])
        items = doc["items"]
        doc["items"] = items[start:start + 1]  # one item per page: the client must follow `continue`
        if start + 1 < len(items):
            doc["metadata"]["continue"] = str(start + 1)
        self._send(200, doc)

    def _refuse(self) -> None:
        self.server.requests.append((self.command, urlparse(self.path).path, self.headers.get("Authorization")))
        self._status(405, "MethodNotAllowed", "plan-cutover must never write")

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse


@pytest.fixture
def api_server() -> Iterator[FakeApi]:
    server = FakeApi()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def kubeconfig(tmp_path: Path, api_server: FakeApi) -> Path:
    host, port = api_server.server_address[:2]
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "fake", "cluster": {"server": f"http://{host}:{port}"}}],
        "users": [{"name": "plan", "user": {"token": TOKEN}}],
        "contexts": [{"name": "fake-eks", "context": {"cluster": "fake", "user": "plan"}},
                     {"name": "other", "context": {"cluster": "fake", "user": "nobody"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _build(kubeconfig: Path, **kw):
    from tinysquid.plan.build import PlanOptions, build_plan

    return build_plan(PlanOptions(inventory=CASES / "inventory.json", verify_report=CASES / "verify-clean.json",
                                  values=CASES / "values.yaml", context="fake-eks", kubeconfig=str(kubeconfig),
                                  **kw))


def test_api_path_reads_every_kind_and_passes_the_healthy_cluster(api_server, kubeconfig):
    plan = _build(kubeconfig)
    assert plan.gaps == []
    assert plan.blocking == []
    status = {c.id: str(c.status) for c in plan.checks}
    assert {k: status[k] for k in ("replicas", "zones", "traffic-distribution", "pdb", "exporter",
                                   "grace-period")} == dict.fromkeys(
        ("replicas", "zones", "traffic-distribution", "pdb", "exporter", "grace-period"), "pass")
    zones = next(c for c in plan.checks if c.id == "zones").evidence
    assert any("eu-west-1a" in e for e in zones) and any("eu-west-1b" in e for e in zones)
    hints = next(c for c in plan.checks if c.id == "traffic-distribution").evidence
    assert "EndpointSlices: 2/2 endpoints carry zone hints" in hints
    found = {(c.kind, c.namespace, c.name) for c in plan.clients}
    assert {("Deployment", "billing", "api"), ("CronJob", "reports", "nightly-export"),
            ("ConfigMap", "payments", "proxy-env")} <= found
    assert ("Deployment", "web", "frontend") not in found
    # Read-only, authenticated, and paginated: every list was followed through its `continue` pages.
    assert {m for m, _, _ in api_server.requests} == {"GET"}
    assert {a for _, _, a in api_server.requests} == {f"Bearer {TOKEN}"}
    paths = [p for _, p, _ in api_server.requests]
    assert set(paths) == set(ROUTES)
    assert paths.count("/api/v1/pods") == 2 and paths.count("/api/v1/configmaps") == 3


def test_forbidden_kind_is_a_gap_and_its_checks_fall_back(api_server, kubeconfig):
    api_server.forbidden = {"poddisruptionbudgets", "nodes"}
    plan = _build(kubeconfig)
    gaps = {g.subject: g for g in plan.gaps}
    assert set(gaps) == {"PodDisruptionBudget", "Node"}
    assert gaps["Node"].code == "TS740" and "HTTP 403" in gaps["Node"].message
    checks = {c.id: c for c in plan.checks}
    # Without Nodes the zones come from the Service's EndpointSlices (endpoint.zone).
    assert str(checks["zones"].status) == "pass"
    assert checks["zones"].evidence[0] == "Node not read; zones from the Service's EndpointSlices"
    assert "endpoint 10.0.1.77 in zone eu-west-1a" in checks["zones"].evidence
    assert checks["pdb"].evidence == ["values.yaml: podDisruptionBudget.enabled=True"]


def test_without_nodes_and_endpointslices_zones_are_unknown(api_server, kubeconfig):
    api_server.forbidden = {"nodes", "endpointslices"}
    plan = _build(kubeconfig)
    zones = next(c for c in plan.checks if c.id == "zones")
    assert str(zones.status) == "unknown" and "Node objects not read" in zones.evidence[0]
    assert plan.blocking == []


def test_cli_with_context_writes_the_runbook(api_server, kubeconfig, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tinysquid.cli import app

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    out = tmp_path / "runbook.md"
    result = CliRunner().invoke(app, ["plan-cutover", "--context", "fake-eks", "--values", str(CASES / "values.yaml"),
                                      "--verify-report", str(CASES / "verify-clean.json"),
                                      "--inventory", str(CASES / "inventory.json"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "Cluster: context fake-eks." in text
    assert "kubectl set env deployment/api -n billing -c api" in text


def test_unknown_context_is_bad_input(kubeconfig):
    from tinysquid.diagnostics import InputError
    from tinysquid.plan.cluster import from_api

    with pytest.raises(InputError) as err:
        from_api("no-such-context", str(kubeconfig))
    assert err.value.diagnostic.code == "TS004"


def test_unreachable_api_server_gives_gaps_quickly(tmp_path):
    import socket
    import time

    from tinysquid.plan.build import PlanOptions, build_plan

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "gone",
           "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
           "users": [{"name": "u", "user": {"token": TOKEN}}],
           "contexts": [{"name": "gone", "context": {"cluster": "c", "user": "u"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    start = time.monotonic()
    plan = build_plan(PlanOptions(context="gone", kubeconfig=str(path)))
    assert time.monotonic() - start < 10
    assert len(plan.gaps) == 12 and len({g.message.split(": ", 1)[1] for g in plan.gaps}) == 1
    assert plan.blocking == []


def test_kubeconfig_paths_are_merged_as_kubectl_merges_them(api_server, kubeconfig, tmp_path, monkeypatch):
    """KUBECONFIG=missing:users:clusters: the missing file is skipped, the user comes from the first
    file naming it (its token is the one the API server accepts, the second file's is wrong)."""
    from typer.testing import CliRunner

    from tinysquid.cli import app

    cfg = yaml.safe_load(kubeconfig.read_text())
    users = tmp_path / "users.yaml"
    users.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "users": cfg["users"]}))
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text(yaml.safe_dump({**cfg, "users": [{"name": "plan", "user": {"token": "wrong"}}]}))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "missing"), str(users), str(clusters)]))
    result = CliRunner().invoke(app, ["plan-cutover", "--context", "fake-eks", "--values", str(CASES / "values.yaml"),
                                      "--verify-report", str(CASES / "verify-clean.json"),
                                      "--inventory", str(CASES / "inventory.json"), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert {a for _, _, a in api_server.requests} == {f"Bearer {TOKEN}"}


def test_kubeconfig_flag_alone_reads_its_current_context(api_server, kubeconfig, tmp_path):
    from tinysquid.plan.build import PlanOptions, build_plan

    cfg = yaml.safe_load(kubeconfig.read_text())
    own = tmp_path / "own.yaml"
    own.write_text(yaml.safe_dump({**cfg, "current-context": "fake-eks"}))
    plan = build_plan(PlanOptions(values=CASES / "values.yaml", kubeconfig=str(own)))
    assert plan.gaps == [] and api_server.requests
