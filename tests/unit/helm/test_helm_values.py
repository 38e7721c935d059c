"""Helm values: required keys and invariants, keys ⊆ the chart version's key list, no secret, no stray {{."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from tinysquid.diagnostics import Report
from tinysquid.helm import chart_keys, values
from tinysquid.policy import ir
from tinysquid.squid import render

POLICY = ir.Policy(
    listener=ir.Listener(8888),
    auth=ir.AuthPolicy((ir.BasicAuthUser("alice", ir.Secret("hunter2")),)),
    upstream=ir.UpstreamPolicy((ir.UpstreamRoute(ir.UpstreamKind.HTTP, None, "p", 3128,
                                                 ir.Credentials("u", ir.Secret("s3cr3t"))),)),
    destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.DENY, (
        ir.DestPattern("[{{]x", False, ir.PatternSyntax.BRE, "[{{]x"),)),
)


def build(policy: ir.Policy, version: str) -> tuple[dict, Report]:
    report = Report()
    conf = render.render_squid_conf(policy, for_chart=True, report=Report())
    return values.render_values(policy, conf, chart_version=version, report=report), report


@pytest.mark.parametrize("version", ["0.9", "0.7"])
def test_required_keys_and_invariants(version: str) -> None:
    v, _ = build(POLICY, version)
    assert chart_keys.unknown_keys(v, version) == []
    assert v["replicaCount"] >= 2
    assert v["service"]["port"] == 8888
    assert v["service"]["targetPort"] > 1024
    assert v["service"]["trafficDistribution"] == "PreferClose"
    [tsc] = v["topologySpreadConstraints"]
    assert tsc["topologyKey"] == "topology.kubernetes.io/zone"
    assert tsc["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "squid"}
    assert v["podDisruptionBudget"]["enabled"] is True
    assert v["terminationGracePeriodSeconds"] >= v["squidShutdownTimeout"] + 10
    assert v["squidExporter"]["enabled"] is True
    assert v["image"]["tag"] and v["image"]["tag"] != "latest"
    conf = v["config"]["squid.conf"]
    assert "http_port {{ .Values.service.targetPort }}" in conf
    assert "pid_filename /var/spool/squid/squid.pid" in conf
    assert "shutdown_lifetime {{ .Values.squidShutdownTimeout }} seconds" in conf


def test_privileged_port_maps_to_3128_and_is_reported() -> None:
    v, report = build(replace(POLICY, listener=ir.Listener(80)), "0.9")
    assert (v["service"]["port"], v["service"]["targetPort"]) == (80, 3128)
    assert [d.code for d in report if d.code.startswith("TS27")] == ["TS275"]


def test_listen_addresses_are_reported_as_dropped() -> None:
    _, report = build(replace(POLICY, listener=ir.Listener(8888, ("10.0.0.1",))), "0.9")
    assert [d.code for d in report if d.code.startswith("TS27")] == ["TS274"]


def test_dump_is_block_yaml_with_literal_conf_and_round_trips() -> None:
    v, _ = build(POLICY, "0.9")
    text = values.dump_values(v)
    assert '  squid.conf: |\n' in text
    assert "{" not in text.split("squid.conf: |", 1)[0].replace("{{", "")  # block style before the conf
    assert yaml.safe_load(text) == v


def test_no_secret_and_only_chart_templates() -> None:
    v, _ = build(POLICY, "0.9")
    text = values.dump_values(v)
    assert "hunter2" not in text and "s3cr3t" not in text
    conf = v["config"]["squid.conf"]
    rest = (conf.replace('{{"{{"}}', "").replace("{{ .Values.service.targetPort }}", "")
            .replace("{{ .Values.squidShutdownTimeout }}", ""))
    assert "{{" not in rest


def test_key_lists_per_version() -> None:
    assert 'config."squid.conf"' in chart_keys.KEYS["0.7"]
    assert "httpRoute.enabled" in chart_keys.KEYS["0.9"]
    assert "httpRoute.enabled" not in chart_keys.KEYS["0.7"]
    assert "serviceAccount.imagePullSecrets" not in chart_keys.KEYS["0.7"]
    assert chart_keys.unknown_keys({"httpRoute": {"enabled": True}}, "0.7") == ["httpRoute.enabled"]
    assert chart_keys.unknown_keys({"metrics": {"serviceMonitor": {"enabled": True}}}, "0.9") == [
        "metrics.serviceMonitor.enabled"]
    assert chart_keys.unknown_keys({"podAnnotations": {"a.b/c": "1"}, "resources": {"limits": {"cpu": 1}}},
                                   "0.9") == []


def test_unknown_chart_version_is_refused() -> None:
    with pytest.raises(ValueError):
        values.render_values(POLICY, "", chart_version="1.0", report=Report())
