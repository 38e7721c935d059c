"""Client-address arithmetic: the exact set of clients ordered Allow/Deny rules admit, as CIDRs.

tinyproxy stores every address as 16 bytes, IPv4 as the IPv4-mapped ``::ffff:a.b.c.d``, and compares
masked values (research notes §3, ``acl.c: check_numeric_acl``). So all arithmetic here happens in
ONE 128-bit space: an IPv4 network occupies its slice of ``::ffff:0:0/96``, an IPv6 network its own
range. That reproduces both quirks exactly: an IPv4 entry never matches an IPv6 client, and
``::/0`` matches IPv4 clients too. squid 5.7/6.13 store addresses the same way (verified live: ``src
::/1`` admits 127.0.0.1), so the result maps back onto squid ``src`` values one to one.

Sets are sorted lists of disjoint half-open integer intervals; they are converted to collapsed,
non-overlapping CIDRs only at the end (squid ≤6 silently drops a wider network listed after a
narrower one, so overlap must never reach the output).
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, replace

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import make
from tinysquid.policy import ir

SPACE = 1 << 128
_V4_BASE = 0xFFFF << 32  # ::ffff:0.0.0.0
_V4_END = _V4_BASE + (1 << 32)

Interval = tuple[int, int]


@dataclass(frozen=True, slots=True)
class AddressSet:
    """A set of client addresses in the unified 128-bit space (disjoint sorted intervals)."""

    intervals: tuple[Interval, ...] = ()

    @classmethod
    def of(cls, networks: Iterable[ir.IPNetwork]) -> AddressSet:
        """The union of ``networks``."""
        return cls(_normalise(_interval(n) for n in networks))

    @classmethod
    def everything(cls) -> AddressSet:
        """Every IPv4 and IPv6 address."""
        return cls(((0, SPACE),))

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def is_everything(self) -> bool:
        """True when the set holds every address."""
        return self.intervals == ((0, SPACE),)

    def union(self, other: AddressSet) -> AddressSet:
        """Self ∪ other."""
        return AddressSet(_normalise([*self.intervals, *other.intervals]))

    def difference(self, other: AddressSet) -> AddressSet:
        """Self ∖ other."""
        out: list[Interval] = []
        j = 0
        theirs = other.intervals
        for start, end in self.intervals:
            cur = start
            while j < len(theirs) and theirs[j][1] <= cur:
                j += 1
            k = j
            while k < len(theirs) and theirs[k][0] < end:
                s, e = theirs[k]
                if s > cur:
                    out.append((cur, s))
                cur = max(cur, e)
                if cur >= end:
                    break
                k += 1
            if cur < end:
                out.append((cur, end))
        return AddressSet(tuple(out))

    def intersection(self, other: AddressSet) -> AddressSet:
        """Self ∩ other."""
        return self.difference(self.difference(other))

    def networks(self) -> list[ir.IPNetwork]:
        """Collapsed CIDRs covering exactly this set, widest first. Networks inside the IPv4-mapped
        range come back as IPv4 networks; the whole IPv4 space as ``0.0.0.0/1`` + ``128.0.0.0/1``
        (squid 5.7 rejects ``0.0.0.0/0`` with an ERROR asking for ``all``)."""
        nets: list[ir.IPNetwork] = []
        for start, end in self.intervals:
            for net in ipaddress.summarize_address_range(ipaddress.IPv6Address(start),
                                                         ipaddress.IPv6Address(end - 1)):
                lo = int(net.network_address)
                if lo >= _V4_BASE and lo + net.num_addresses <= _V4_END:
                    v4 = ipaddress.IPv4Network((lo - _V4_BASE, net.prefixlen - 96))
                    if v4.prefixlen == 0:
                        nets.extend(v4.subnets(prefixlen_diff=1))
                    else:
                        nets.append(v4)
                else:
                    nets.append(net)
        nets.sort(key=lambda n: (-n.num_addresses, n.version, int(n.network_address)))
        return nets


class _Undecided:
    """The addresses no rule has decided yet, as parallel sorted lists of interval starts and ends,
    so that taking a rule's network out costs O(log n + overlaps) instead of a full pass (config
    files with thousands of Allow lines exist)."""

    def __init__(self) -> None:
        self.starts: list[int] = [0]
        self.ends: list[int] = [SPACE]

    def take(self, net: ir.IPNetwork) -> list[Interval]:
        """Remove ``net`` from the undecided set; return the part of it that was still undecided."""
        lo, hi = _interval(net)
        i = bisect.bisect_right(self.ends, lo)
        j = bisect.bisect_left(self.starts, hi)
        if i >= j:
            return []
        taken: list[Interval] = []
        keep_s: list[int] = []
        keep_e: list[int] = []
        for k in range(i, j):
            s, e = self.starts[k], self.ends[k]
            if s < lo:
                keep_s.append(s)
                keep_e.append(lo)
            taken.append((max(s, lo), min(e, hi)))
            if e > hi:
                keep_s.append(hi)
                keep_e.append(e)
        self.starts[i:j] = keep_s
        self.ends[i:j] = keep_e
        return taken

    def remaining(self) -> list[Interval]:
        return list(zip(self.starts, self.ends, strict=True))


def _interval(net: ir.IPNetwork) -> Interval:
    if net.version == 4:
        lo = _V4_BASE + int(net.network_address)
    else:
        lo = int(net.network_address)
    return (lo, lo + net.num_addresses)


def _normalise(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if s >= e:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return tuple((s, e) for s, e in out)


def format_network(net: ir.IPNetwork) -> str:
    """squid ``src``/``dst`` text of a network: a bare address for host routes, else CIDR."""
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


# --------------------------------------------------------------------------- client evaluation


@dataclass(frozen=True, slots=True)
class HostnameGate:
    """A hostname Deny met while walking the rules: clients outside ``admitted_before`` that match
    ``rule`` are refused (``admitted_before`` = clients already admitted by earlier numeric rules)."""

    rule: ir.ClientRule
    admitted_before: AddressSet


@dataclass(frozen=True, slots=True)
class ClientDecision:
    """What squid must enforce for the client rules.

    A client is refused iff it is outside ``gates[j].admitted_before`` and matches ``gates[j].rule``
    for some j, or it is outside ``admitted``. ``dropped_allows`` are hostname Allow rules treated as
    never matching (which can only refuse more clients, never admit more) — except the forward half
    of a name in :data:`KNOWN_NAMES` (``localhost``), which is numeric and kept.
    """

    admitted: AddressSet
    gates: tuple[HostnameGate, ...] = ()
    dropped_allows: tuple[ir.ClientRule, ...] = ()


# Names whose forward resolution is fixed by convention (/etc/hosts on every distribution and in
# every container image): tinyproxy's forward-lookup half of a name entry is then numeric.
KNOWN_NAMES: dict[str, tuple[ir.IPNetwork, ...]] = {
    "localhost": (ipaddress.IPv4Network("127.0.0.1/32"), ipaddress.IPv6Network("::1/128")),
}


def decide_clients(policy: ir.ClientPolicy) -> ClientDecision:
    """Walk the first-match rules once: numeric rules are exact set arithmetic; hostname Allow rules
    are treated as never matching; hostname Deny rules become gates (see :class:`ClientDecision`).

    Why this is exact for numeric rules and never wider overall: let A_i be the clients admitted by
    numeric rules between hostname Deny i and i+1 (the last segment includes the default). tinyproxy
    admits a client in A_i iff it matches none of the hostname Denies 1..i; the gates refuse exactly
    the clients outside A_0 ∪ … ∪ A_{j-1} that match Deny j.
    """
    undecided = _Undecided()
    admitted_parts: list[Interval] = []
    gates: list[HostnameGate] = []
    dropped: list[ir.ClientRule] = []
    for rule in policy.rules:
        if isinstance(rule.match, ir.ClientHostname):
            known = KNOWN_NAMES.get(rule.match.name.lower(), ())
            if rule.action is ir.Action.ALLOW:
                # The forward half of a well-known name is numeric; the reverse-DNS half is dropped
                # (narrower). Any other name is dropped whole.
                for net in known:
                    admitted_parts.extend(undecided.take(net))
                dropped.append(rule)
            else:
                for net in known:
                    undecided.take(net)
                gates.append(HostnameGate(rule, AddressSet(_normalise(admitted_parts))))
            continue
        hit = undecided.take(rule.match.network)
        if rule.action is ir.Action.ALLOW:
            admitted_parts.extend(hit)
    if policy.default is ir.Action.ALLOW:
        admitted_parts.extend(undecided.remaining())
    admitted = AddressSet(_normalise(admitted_parts))
    return ClientDecision(admitted=admitted, gates=tuple(gates), dropped_allows=tuple(dropped))


# --------------------------------------------------------------------------- the pass


def collapse_cidrs(policy: ir.Policy, report: Report) -> ir.Policy:
    """Drop numeric client rules that can never decide (earlier rules cover their whole network,
    TS252) and normalise the rest to their network form; everything else keeps its order.

    The exact admitted set is computed from these rules by :func:`decide_clients` at render time,
    so each emitted rule can still name the tinyproxy line it came from.
    """
    rules = policy.clients.rules
    if not rules:
        return policy
    undecided = _Undecided()
    out: list[ir.ClientRule] = []
    for rule in rules:
        if isinstance(rule.match, ir.ClientHostname):
            out.append(rule)
            continue
        if not undecided.take(rule.match.network):
            report.add(make("TS252", f"client rule {rule.action.value.title()} {rule.match.network} never "
                            "decides: earlier rules cover its whole network", source="convert",
                            span=rule.origin))
            continue
        out.append(rule)
    if len(out) == len(rules):
        return policy
    return replace(policy, clients=replace(policy.clients, rules=tuple(out)))


def _nets(addresses: AddressSet) -> tuple[ir.IPNetwork, ...] | None:
    return None if addresses.is_everything() else tuple(addresses.networks())


def decide(policy: ir.Policy, report: Report) -> ir.Policy:
    """Write the effective client decision into ``policy.clients.decided`` (see
    :class:`~tinysquid.policy.ir.ClientDecisions`); report every hostname Allow that is not carried
    over (TS250: no back end can resolve a client name per request)."""
    clients = policy.clients
    if not clients.rules:
        everyone: tuple[ir.IPNetwork, ...] | None = None if clients.default is ir.Action.ALLOW else ()
        return replace(policy, clients=replace(clients, decided=ir.ClientDecisions(everyone)))
    d = decide_clients(clients)
    for rule in d.dropped_allows:
        assert isinstance(rule.match, ir.ClientHostname)
        known = KNOWN_NAMES.get(rule.match.name.lower())
        if known is not None:
            addrs = " and ".join(str(n.network_address) for n in known)
            report.add(make("TS250", f"Allow {rule.match.name} admits {addrs} (its /etc/hosts addresses); the "
                            "reverse-DNS suffix match is not carried over", source="convert", span=rule.origin))
            continue
        report.add(make("TS250", f"Allow {rule.match.name} (hostname) is not carried over; clients admitted "
                        "only through it are refused", source="convert", span=rule.origin))
    gates = tuple(ir.AddressGate(g.rule, _nets(g.admitted_before)) for g in d.gates)
    decided = ir.ClientDecisions(_nets(d.admitted), gates, d.dropped_allows)
    return replace(policy, clients=replace(clients, decided=decided))
