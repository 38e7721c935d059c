"""Client address arithmetic: exact admitted sets in the unified 128-bit space, checked by brute force."""

from __future__ import annotations

import ipaddress
import random

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Span
from tinysquid.policy import ir
from tinysquid.policy.passes.cidrs import AddressSet, collapse_cidrs, decide_clients


def rule(action: str, text: str, line: int = 1) -> ir.ClientRule:
    return ir.ClientRule(ir.Action(action), ir.ClientNetwork(ipaddress.ip_network(text)), Span("c", line))


def first_match(rules: list[ir.ClientRule], default: ir.Action, addr: ipaddress._BaseAddress) -> bool:
    """tinyproxy's check_numeric_acl, literally: IPv4 stored as ::ffff:a.b.c.d, masked compare."""
    a16 = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + addr.packed) if addr.version == 4 else addr
    for r in rules:
        n = r.match.network
        n16 = (ipaddress.IPv6Network((int(ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + n.network_address.packed)),
                                      n.prefixlen + 96)) if n.version == 4 else n)
        if a16 in n16:
            return r.action is ir.Action.ALLOW
    return default is ir.Action.ALLOW


def in_nets(nets: list, addr: ipaddress._BaseAddress) -> bool:
    a16 = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + addr.packed) if addr.version == 4 else addr
    for n in nets:
        if n.version == addr.version and addr in n:
            return True
        if n.version == 6 and a16 in n:
            return True
    return False


def test_narrow_then_wide_collapses() -> None:
    d = decide_clients(ir.ClientPolicy((rule("allow", "10.1.0.0/16"), rule("allow", "10.0.0.0/8")), ir.Action.DENY))
    assert [str(n) for n in d.admitted.networks()] == ["10.0.0.0/8"]


def test_ipv4_rules_never_admit_ipv6_and_ipv6_all_admits_ipv4() -> None:
    d = decide_clients(ir.ClientPolicy((rule("allow", "0.0.0.0/0"),), ir.Action.DENY))
    assert [str(n) for n in d.admitted.networks()] == ["0.0.0.0/1", "128.0.0.0/1"]
    d = decide_clients(ir.ClientPolicy((rule("deny", "10.0.0.0/8"), rule("allow", "::/0")), ir.Action.DENY))
    nets = d.admitted.networks()
    assert in_nets(nets, ipaddress.ip_address("192.0.2.1"))
    assert not in_nets(nets, ipaddress.ip_address("10.9.9.9"))
    assert in_nets(nets, ipaddress.ip_address("2001:db8::1"))


def test_mapped_ipv6_rule_admits_ipv4() -> None:
    d = decide_clients(ir.ClientPolicy((rule("allow", "::ffff:127.0.0.0/104"),), ir.Action.DENY))
    assert [str(n) for n in d.admitted.networks()] == ["127.0.0.0/8"]


def test_output_never_overlaps_and_is_widest_first() -> None:
    d = decide_clients(ir.ClientPolicy((rule("deny", "10.0.0.5/32"), rule("allow", "10.0.0.0/24"),
                                        rule("allow", "10.0.0.0/16")), ir.Action.DENY))
    nets = d.admitted.networks()
    sizes = [n.num_addresses for n in nets]
    assert sizes == sorted(sizes, reverse=True)
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            assert not a.overlaps(b)


def test_random_rule_sets_match_tinyproxy_first_match() -> None:
    rng = random.Random(20261125)
    pool4 = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "0.0.0.0/0", "127.0.0.0/8",
             "127.0.0.1/32", "192.168.0.0/16", "10.128.0.0/9"]
    pool6 = ["::/0", "::1/128", "2001:db8::/32", "2001:db8:1::/48", "::ffff:10.0.0.0/104", "fe80::/10"]
    probes = [ipaddress.ip_address(a) for a in (
        "10.0.0.1", "10.1.0.1", "10.1.2.3", "10.1.2.4", "10.200.0.1", "127.0.0.1", "127.0.0.2", "192.168.5.5",
        "8.8.8.8", "::1", "2001:db8::5", "2001:db8:1::5", "fe80::1", "2a00::1")]
    for _ in range(300):
        rules = [rule(rng.choice(["allow", "deny"]), rng.choice(pool4 + pool6)) for _ in range(rng.randint(1, 6))]
        default = ir.Action.DENY
        nets = decide_clients(ir.ClientPolicy(tuple(rules), default)).admitted.networks()
        for p in probes:
            assert in_nets(nets, p) == first_match(rules, default, p), (rules, p)


def test_set_operations() -> None:
    a = AddressSet.of([ipaddress.ip_network("10.0.0.0/8")])
    b = AddressSet.of([ipaddress.ip_network("10.1.0.0/16")])
    assert a.difference(b).union(b) == a
    assert a.intersection(b) == b
    assert not b.difference(a)
    assert AddressSet.everything().is_everything()


def test_collapse_pass_drops_shadowed_rules_and_keeps_hostnames() -> None:
    report = Report()
    policy = ir.Policy(listener=ir.Listener(1), clients=ir.ClientPolicy((
        rule("allow", "10.0.0.0/8", 1), rule("deny", "10.1.0.0/16", 2),
        ir.ClientRule(ir.Action.DENY, ir.ClientHostname("x.example"), Span("c", 3)),
        rule("allow", "10.2.0.0/16", 4), rule("allow", "192.168.0.0/16", 5)), ir.Action.DENY))
    out = collapse_cidrs(policy, report)
    assert [r.origin.line for r in out.clients.rules] == [1, 3, 5]
    assert [d.code for d in report] == ["TS252", "TS252"]
    assert decide_clients(out.clients).admitted == decide_clients(policy.clients).admitted


def test_collapse_pass_without_rules_is_identity() -> None:
    policy = ir.Policy(listener=ir.Listener(1))
    assert collapse_cidrs(policy, Report()) is policy


def test_thousands_of_rules_stay_fast() -> None:
    import time

    rng = random.Random(1)
    rules = tuple(rule("allow" if rng.random() < 0.8 else "deny",
                       f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}/32") for _ in range(5000))
    start = time.perf_counter()
    decision = decide_clients(ir.ClientPolicy(rules, ir.Action.DENY))
    collapse_cidrs(ir.Policy(listener=ir.Listener(1), clients=ir.ClientPolicy(rules, ir.Action.DENY)), Report())
    assert time.perf_counter() - start < 2.0  # was 20 s with whole-set differences per rule
    probes = [ipaddress.ip_address(str(r.match.network.network_address)) for r in rules[:40]]
    nets = decision.admitted.networks()
    for p in probes:
        assert in_nets(nets, p) == first_match(list(rules), ir.Action.DENY, p)
