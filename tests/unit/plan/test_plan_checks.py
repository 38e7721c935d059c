"""Pre-flight checks from --cluster-dump: a healthy two-zone squid passes; each broken property is a
blocking failure that names its evidence; missing inputs make checks unknown, never pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from _planfix import HEALTHY, INVENTORY, VALUES, VERIFY_CLEAN, VERIFY_WIDENED, find, mutated_dump

from tinysquid.plan.build import PlanOptions, build_plan


def _plan(dump: Path | None = HEALTHY, verify: Path | None = VERIFY_CLEAN, values: Path | None = VALUES):
    return build_plan(PlanOptions(inventory=INVENTORY, verify_report=verify, values=values, cluster_dump=dump))


def _check(plan, cid: str):
    return next(c for c in plan.checks if c.id == cid)


def test_healthy_two_zone_squid_has_no_blocking_failure():
    plan = _plan()
    assert plan.blocking == []
    for cid in ("replicas", "zones", "traffic-distribution", "pdb", "exporter", "grace-period", "verify"):
        assert str(_check(plan, cid).status) == "pass", cid
    zones = " ".join(_check(plan, "zones").evidence)
    assert "eu-west-1a" in zones and "eu-west-1b" in zones


def test_single_zone_is_blocking_with_the_zone_named(tmp_path):
    def one_zone(items):
        node = find(items, "Node", "ip-10-0-2-60.eu-west-1.compute.internal")
        node["metadata"]["labels"]["topology.kubernetes.io/zone"] = "eu-west-1a"
    plan = _plan(mutated_dump(tmp_path, one_zone))
    c = _check(plan, "zones")
    assert c.blocking and c.code == "TS702"
    assert "zone eu-west-1a" in c.finding.message
    assert any("ip-10-0-2-60" in e and "eu-west-1a" in e for e in c.evidence)


def test_missing_prefer_close_is_blocking(tmp_path):
    def no_pc(items):
        del find(items, "Service", "squid", "squid")["spec"]["trafficDistribution"]
        for endpoint in find(items, "EndpointSlice", "squid-x7k2p", "squid")["endpoints"]:
            del endpoint["hints"]  # the control plane writes hints only for PreferClose
    c = _check(_plan(mutated_dump(tmp_path, no_pc)), "traffic-distribution")
    assert c.blocking and c.code == "TS703"
    assert c.evidence == ["Service/squid/squid: spec.trafficDistribution=None",
                          "EndpointSlices: 0/2 endpoints carry zone hints"]


def test_widened_verify_report_is_blocking_and_names_the_probes():
    plan = _plan(verify=VERIFY_WIDENED)
    c = _check(plan, "verify")
    assert c.blocking and c.code == "TS707"
    assert "widened=1, narrowed=1" in c.evidence[0]
    assert "widened: CONNECT api.stripe.com:22 (old denied/denied, new allowed) — unlisted port" in c.evidence
    assert "narrowed: CONNECT hooks.slack.com:443 (old allowed/allowed, new denied)" in c.evidence


def test_noisy_probes_are_listed_but_do_not_block():
    c = _check(_plan(), "verify-noise")
    assert str(c.status) == "fail" and not c.blocking
    assert any("flaky.example.org" in e for e in c.evidence)


def test_grace_period_not_above_shutdown_lifetime_is_blocking(tmp_path):
    def short(items):
        find(items, "Deployment", "squid", "squid")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    c = _check(_plan(mutated_dump(tmp_path, short)), "grace-period")
    assert c.blocking and c.code == "TS706"
    assert "Deployment/squid/squid terminationGracePeriodSeconds=30" in c.evidence
    assert any(e.startswith("shutdown_lifetime=30s from ConfigMap/squid/squid-conf") for e in c.evidence)


def test_grace_period_default_when_unset_and_lifetime_in_minutes(tmp_path):
    def unset(items):
        del find(items, "Deployment", "squid", "squid")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        cm = find(items, "ConfigMap", "squid-conf", "squid")
        cm["data"]["squid.conf"] = cm["data"]["squid.conf"].replace("shutdown_lifetime 30 seconds",
                                                                    "shutdown_lifetime 1 minute")
    c = _check(_plan(mutated_dump(tmp_path, unset)), "grace-period")
    assert c.blocking
    assert "(Kubernetes default)=30" in c.evidence[0] and "shutdown_lifetime=60s" in c.evidence[1]


def test_one_ready_replica_is_blocking(tmp_path):
    def one(items):
        find(items, "Deployment", "squid", "squid")["status"]["readyReplicas"] = 1
    c = _check(_plan(mutated_dump(tmp_path, one)), "replicas")
    assert c.blocking and "status.readyReplicas=1" in c.evidence[0]


def test_no_pdb_is_blocking(tmp_path):
    def drop(items):
        items.remove(find(items, "PodDisruptionBudget", "squid", "squid"))
    c = _check(_plan(mutated_dump(tmp_path, drop)), "pdb")
    assert c.blocking and c.code == "TS704"


def test_no_exporter_fails_without_blocking(tmp_path):
    def drop(items):
        spec = find(items, "Deployment", "squid", "squid")["spec"]["template"]["spec"]
        spec["containers"] = [c for c in spec["containers"] if c["name"] != "squid-exporter"]
    c = _check(_plan(mutated_dump(tmp_path, drop)), "exporter")
    assert str(c.status) == "fail" and not c.blocking


def test_squid_not_deployed_leaves_running_checks_unknown(tmp_path):
    def drop(items):
        items.remove(find(items, "Deployment", "squid", "squid"))
    plan = _plan(mutated_dump(tmp_path, drop))
    assert str(_check(plan, "replicas").status) == "unknown"
    assert "after phase 1" in _check(plan, "replicas").decided_by
    assert plan.blocking == []


def test_without_any_input_every_check_is_unknown_and_names_its_input():
    plan = build_plan(PlanOptions())
    assert {str(c.status) for c in plan.checks} == {"unknown"}
    assert all(c.decided_by for c in plan.checks)
    assert _check(plan, "verify").decided_by == "--verify-report"
    assert plan.blocking == []


def test_values_decide_configuration_checks_without_a_cluster():
    plan = _plan(dump=None)
    assert str(_check(plan, "traffic-distribution").status) == "pass"
    assert str(_check(plan, "grace-period").status) == "pass"  # 50 > squidShutdownTimeout 30
    assert str(_check(plan, "zones").status) == "unknown"


@pytest.mark.parametrize("bad", ["{\n  \"summary\": {,\n}", "[1, 2]"])
def test_malformed_verify_report_is_bad_input_with_its_line(tmp_path, bad):
    from tinysquid.diagnostics import InputError

    path = tmp_path / "verify.json"
    path.write_text(bad)
    with pytest.raises(InputError) as err:
        _plan(verify=path)
    assert err.value.diagnostic.code == "TS005"
    assert err.value.diagnostic.span.path == str(path)
    assert err.value.diagnostic.span.line == (2 if bad.startswith("{") else 1)


def test_malformed_dump_yaml_names_file_and_line(tmp_path):
    from tinysquid.diagnostics import InputError

    d = tmp_path / "dump"
    d.mkdir()
    (d / "x.yaml").write_text("apiVersion: v1\nkind: List\nitems:\n  - kind: Pod\n    metadata: {name: [\n")
    with pytest.raises(InputError) as err:
        _plan(dump=d)
    assert err.value.diagnostic.span.path == str(d / "x.yaml")
    assert err.value.diagnostic.span.line >= 5


def test_convert_report_beside_values_lists_non_exact_lines(tmp_path):
    import json
    import shutil

    shutil.copy(VALUES, tmp_path / "values.yaml")
    (tmp_path / "report.json").write_text(json.dumps({
        "apiVersion": "tinysquid/v1", "kind": "ConvertReport", "generated_by": "tinysquid test",
        "input": "tinyproxy.conf", "options": {}, "summary": {}, "findings": [
            {"code": "TS200", "severity": "info", "status": "exact", "file": "tinyproxy.conf", "line": 3,
             "message": "Port"},
            {"code": "TS204", "severity": "warning", "status": "approximated", "file": "filter", "line": 7,
             "message": "BRE pattern"},
            {"code": "TS301", "severity": "info", "status": "hardening", "subject": "metadata",
             "message": "deny 169.254.0.0/16"}]}))
    c = _check(_plan(values=tmp_path / "values.yaml"), "convert")
    assert str(c.status) == "fail" and not c.blocking
    assert "filter:7: approximated TS204 BRE pattern" in c.evidence
    assert not any("TS200" in e for e in c.evidence)


def test_convert_check_passes_when_every_open_finding_was_reviewed(tmp_path):
    """A report.json whose non-exact findings were all accepted (``ignored``, issue 14 item 3)
    passes the convert check; the reviewed lines stay in the evidence, marked."""
    import json
    import shutil

    shutil.copy(VALUES, tmp_path / "values.yaml")
    findings = [
        {"code": "TS204", "severity": "warning", "status": "approximated", "file": "filter", "line": 7,
         "message": "BRE pattern", "ignored": True, "ignored_by": {"rule": "TS204", "source": "tinysquid.toml:2"}},
        {"code": "TS301", "severity": "info", "status": "hardening", "subject": "metadata",
         "message": "deny 169.254.0.0/16"}]
    doc = {"apiVersion": "tinysquid/v1", "kind": "ConvertReport", "generated_by": "tinysquid test",
           "input": "tinyproxy.conf", "options": {}, "summary": {}, "findings": findings}
    (tmp_path / "report.json").write_text(json.dumps(doc))
    c = _check(_plan(values=tmp_path / "values.yaml"), "convert")
    assert str(c.status) == "pass"
    assert "filter:7: approximated (ignored: reviewed) TS204 BRE pattern" in c.evidence
    findings[0]["ignored"] = False
    (tmp_path / "report.json").write_text(json.dumps(doc))
    assert str(_check(_plan(values=tmp_path / "values.yaml"), "convert").status) == "fail"
