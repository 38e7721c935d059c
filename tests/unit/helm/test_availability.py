"""Kubernetes version, zone spread, replicas, PDB and resources in the Helm values (issue 13 §1, §8)."""

from __future__ import annotations

import pytest

from tinysquid.diagnostics import Report
from tinysquid.helm import values
from tinysquid.policy import ir
from tinysquid.squid import render

POLICY = ir.Policy(listener=ir.Listener(8888))


def build(**kw: object) -> tuple[dict, Report]:
    report = Report()
    conf = render.render_squid_conf(POLICY, for_chart=True, report=Report())
    return values.render_values(POLICY, conf, chart_version="0.9", report=report, **kw), report


def codes(report: Report) -> list[str]:
    return [d.code for d in report]


@pytest.mark.parametrize(("text", "expected"), [
    ("1.34", "PreferSameZone"), ("v1.35.1", "PreferSameZone"), ("1.33", "PreferClose"),
    ("1.31", "PreferClose"), ("1.30", None), ("1.27", None), ("2.0", "PreferSameZone"),
])
def test_traffic_distribution_follows_the_kube_version(text: str, expected: str | None) -> None:
    v, report = build(kube_version=values.parse_kube_version(text))
    assert v["service"].get("trafficDistribution") == expected
    assert ("TS321" in codes(report)) is (expected is None)
    assert ("TS320" in codes(report)) is (expected is not None)


def test_without_kube_version_prefer_close_is_kept_and_said() -> None:
    v, report = build()
    assert v["service"]["trafficDistribution"] == "PreferClose"
    [d] = [d for d in report if d.code == "TS320"]
    assert "--kube-version not given" in d.message


@pytest.mark.parametrize("bad", ["", "1", "1.x", "one.two", "1.31.2.4", "v"])
def test_bad_kube_versions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        values.parse_kube_version(bad)


def test_spread_is_required_over_the_zones_and_counts_only_its_own_pods() -> None:
    v, report = build(replicas=6, zones=3)
    assert v["replicaCount"] == 6
    [tsc] = v["topologySpreadConstraints"]
    assert tsc["whenUnsatisfiable"] == "DoNotSchedule" and tsc["minDomains"] == 3
    assert tsc["matchLabelKeys"] == ["pod-template-hash"]
    assert "TS322" in codes(report) and "TS324" not in codes(report)


def test_best_effort_spread_is_a_warning_and_has_no_min_domains() -> None:
    v, report = build(spread_required=False)
    [tsc] = v["topologySpreadConstraints"]
    assert tsc["whenUnsatisfiable"] == "ScheduleAnyway" and "minDomains" not in tsc
    assert "TS323" in codes(report)


def test_fewer_replicas_than_zones_is_reported() -> None:
    _, report = build(replicas=1, zones=2)
    assert "TS324" in codes(report)


def test_pdb_always_lets_one_pod_go() -> None:
    v, _ = build(replicas=1)
    pdb = v["podDisruptionBudget"]
    # the chart renders minAvailable whenever it is truthy: it must be nulled for maxUnavailable to apply
    assert pdb == {"enabled": True, "minAvailable": None, "maxUnavailable": 1}


@pytest.mark.parametrize(("fds", "conf_bytes", "mib"), [
    (0, 10_000, 128),                  # floor: the chart's own default request
    (65536, 10_000, 64 + 36 + 1),      # 65536 × 576 B = 36 MiB
    (1_048_576, 0, 64 + 576 + 0),      # the ~1M RLIMIT_NOFILE case: over half a GiB
    (65536, 4 << 20, 64 + 36 + 32),    # 4 MiB of config × 8
])
def test_resources_are_sized_from_descriptors_and_config(fds: int, conf_bytes: int, mib: int) -> None:
    res, sizing = values.resources(fds, conf_bytes)
    assert sizing["request"] == max(128, mib)
    assert res["requests"]["memory"] == f"{max(128, mib)}Mi"
    assert res["limits"]["memory"] == f"{2 * max(128, mib)}Mi"
