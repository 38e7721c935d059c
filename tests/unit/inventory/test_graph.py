"""Relationships: EIP ↔ ENI ↔ instance ↔ target group ↔ listener ↔ NLB ↔ Route 53, SG ↔ instance, ASG."""

from __future__ import annotations

from tests.unit.inventory._fixtures import LB, LISTENER, TG, region_data
from tinysquid.inventory.graph import nodes_of, relate_dns, relate_region
from tinysquid.inventory.select import Criteria, select_idle_addresses, select_instances

CRIT = Criteria(tags=(("Role", "tinyproxy"),))


def _records():
    d = region_data()
    sel = select_instances(d.instances, d.security_groups, d.target_groups, d.target_health, CRIT)
    return relate_region(d, sel, select_idle_addresses(d.addresses, CRIT))


def test_only_what_touches_a_proxy_is_listed():
    rec = _records()
    assert [i["id"] for i in rec.instances] == ["i-a", "i-b", "i-gone"]
    assert {e["allocation_id"] for e in rec.elastic_ips} == {"eipalloc-a", "eipalloc-idle"}
    assert [lb["arn"] for lb in rec.load_balancers] == [LB]
    assert [tg["arn"] for tg in rec.target_groups] == [TG]
    assert [lst["arn"] for lst in rec.listeners] == [LISTENER]
    assert [s["id"] for s in rec.security_groups] == ["sg-proxy"]
    assert [a["name"] for a in rec.auto_scaling_groups] == ["tinyproxy-asg"]


def test_eip_found_through_the_eni_and_egress_kinds():
    rec = _records()
    a = next(i for i in rec.instances if i["id"] == "i-a")
    assert a["elastic_ips"] == ["eipalloc-a"] and a["public_ip_kind"] == "elastic-ip"
    b = next(i for i in rec.instances if i["id"] == "i-b")
    assert b["public_ip_kind"] == "auto-assigned" and b["elastic_ips"] == []
    egress = {e["public_ip"]: (e["kind"], e["stable"]) for e in rec.egress_ips}
    assert egress == {"203.0.113.10": ("elastic-ip", True), "198.51.100.7": ("auto-assigned", False),
                      "203.0.113.99": ("idle-elastic-ip", True)}


def test_target_group_details_and_health():
    (tg,) = _records().target_groups
    assert tg["deregistration_delay_seconds"] == 300
    assert tg["preserve_client_ip"] is True and tg["proxy_protocol_v2"] is False
    assert {t["id"]: t["health"] for t in tg["targets"]} == {"i-a": "healthy", "i-b": "unhealthy"}


def test_edges_chain_and_dns():
    rec = _records()
    zones = [{"Id": "/hostedzone/Z1", "Name": "corp.internal.", "Config": {"PrivateZone": True}},
             {"Id": "/hostedzone/Z2", "Name": "example.com.", "Config": {"PrivateZone": False}}]
    records = {
        "/hostedzone/Z1": [
            {"Name": "proxy.corp.internal.", "Type": "A",
             "AliasTarget": {"DNSName": "dualstack.PROXY-NLB-1.elb.us-east-1.amazonaws.com.", "HostedZoneId": "Z"}},
            {"Name": "tp-a.corp.internal.", "Type": "A", "ResourceRecords": [{"Value": "10.0.1.10"}]},
            {"Name": "app.corp.internal.", "Type": "A",
             "AliasTarget": {"DNSName": "app-nlb-2.elb.us-east-1.amazonaws.com.", "HostedZoneId": "Z"}},
        ],
        "/hostedzone/Z2": [{"Name": "egress.example.com.", "Type": "A", "ResourceRecords": [{"Value": "203.0.113.10"}]}],
    }
    relate_dns(zones, records, rec)
    got = {(r["name"], r["points_to_kind"], r["points_to"]) for r in rec.dns_records}
    assert got == {("proxy.corp.internal", "lb", LB), ("tp-a.corp.internal", "instance", "i-a"),
                   ("egress.example.com", "eip", "eipalloc-a")}
    edges = {(e["from"], e["to"], e["relation"]) for e in rec.edges}
    assert ("eip:eipalloc-a", "eni:eni-a", "associated-with") in edges
    assert ("eni:eni-a", "instance:i-a", "attached-to") in edges
    assert ("instance:i-a", f"tg:{TG}", "target-of") in edges
    assert (f"tg:{TG}", f"listener:{LISTENER}", "forwarded-by") in edges
    assert (f"listener:{LISTENER}", f"lb:{LB}", "listener-of") in edges
    assert ("dns:Z1/proxy.corp.internal/A", f"lb:{LB}", "alias-of") in edges
    assert ("sg:sg-proxy", "instance:i-a", "protects") in edges
    assert ("instance:i-a", "asg:tinyproxy-asg", "member-of") in edges
    kinds = {n["kind"] for n in nodes_of(rec)}
    assert kinds == {"eip", "eni", "instance", "tg", "listener", "lb", "dns", "sg", "asg"}


def test_refused_describe_addresses_makes_public_ips_unknown():
    from tinysquid.inventory.collect import PermissionGap

    d = region_data()
    d.addresses = []
    d.failures.append(PermissionGap("ec2:DescribeAddresses", "us-east-1", "UnauthorizedOperation"))
    sel = select_instances(d.instances, d.security_groups, d.target_groups, d.target_health, CRIT)
    rec = relate_region(d, sel, {})
    assert {e["kind"] for e in rec.egress_ips} == {"unknown"}
    assert {i["public_ip_kind"] for i in rec.instances if i["public_ip"]} == {"unknown"}
