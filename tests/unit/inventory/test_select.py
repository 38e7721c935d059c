"""Selection rules: tag, Name glob, target group on the proxy port, security group on the proxy port."""

from __future__ import annotations

from tests.unit.inventory._fixtures import region_data
from tinysquid.inventory.select import Criteria, select_idle_addresses, select_instances


def _select(criteria):
    d = region_data()
    return select_instances(d.instances, d.security_groups, d.target_groups, d.target_health, criteria)


def test_port_rules_alone_find_the_proxies_and_say_why():
    sel = _select(Criteria())
    assert set(sel) == {"i-a", "i-b", "i-gone"}
    assert [r.rule for r in sel["i-a"]] == ["target-group", "security-group"]
    assert "proxy-tg on port 8888" in sel["i-a"][0].detail
    assert "sg-proxy (tinyproxy) allows tcp/8888-8888 from 10.0.0.0/8" in sel["i-a"][1].detail
    assert [r.rule for r in sel["i-gone"]] == ["security-group"]  # stopped, still an estate member


def test_all_traffic_and_all_port_rules_do_not_select_decoys():
    # the decoy sits in the default SG (all traffic from itself) and an SG allowing tcp 0-65535
    assert "i-decoy" not in _select(Criteria())


def test_tag_rule_needs_every_pair():
    sel = _select(Criteria(tags=(("Role", "tinyproxy"),), proxy_port=3128))
    assert set(sel) == {"i-a", "i-b", "i-gone"} and all(r.rule == "tag" for v in sel.values() for r in v)
    assert _select(Criteria(tags=(("Role", "tinyproxy"), ("Env", "prod")), proxy_port=3128)) == {}


def test_name_glob_is_case_sensitive_fnmatch():
    assert set(_select(Criteria(name_pattern="tinyproxy-?", proxy_port=3128))) == {"i-a", "i-b"}
    assert _select(Criteria(name_pattern="TINYPROXY-*", proxy_port=3128)) == {}


def test_target_port_counts_when_the_group_port_differs():
    d = region_data()
    d.target_groups[0]["Port"] = 80          # registered with an override port 8888
    sel = select_instances(d.instances, d.security_groups, d.target_groups, d.target_health,
                           Criteria(proxy_port=8888))
    assert any(r.rule == "target-group" for r in sel["i-a"])


def test_idle_addresses_need_an_explicit_tag_or_name():
    d = region_data()
    assert select_idle_addresses(d.addresses, Criteria()) == {}
    assert set(select_idle_addresses(d.addresses, Criteria(tags=(("Role", "tinyproxy"),)))) == {"eipalloc-idle"}
    assert set(select_idle_addresses(d.addresses, Criteria(name_pattern="tinyproxy-*"))) == {"eipalloc-idle"}
