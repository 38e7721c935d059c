"""Prove the patterns convert translates besides filter entries: upstream sites and client host
names (TS805–TS808). The same automata as :mod:`tinysquid.proof.check`, over the same host domain.

* Upstream sites. tinyproxy (``upstream.c`` / ``hostspec_match``, as the IR's :class:`SiteKind`
  states it): an exact host is ``strcasecmp``; ``.x`` is "the host ends with ``.x``" (never the
  apex); an IP/mask matches IP-literal hosts inside the network. squid: the ACLs
  :func:`tinysquid.squid.upstream.site_acl_terms` emits for cache_peer_access / always_direct /
  never_direct, as squid tests them (host lower-cased, trailing dot stripped; ``dst`` on the
  canonical address ANDed with the IP-literal test). Names are compared as automata; networks as
  address sets. Routes are first match on both sides, so a site's witness is kept only when the
  whole route list sends it to different places.
* Client names. tinyproxy: the client's reverse-DNS name ends with the name (case-insensitive, no dot
  boundary), or, without a leading dot, the name resolves to the client's address. squid: the
  ``srcdom_regex`` emitted for a Deny (:func:`tinysquid.squid.acls.client_name_value`); a hostname
  Allow is not emitted. The reverse-DNS half is compared as automata; the forward half depends on
  DNS at run time and is never called equivalent.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import Diagnostic, Span, make
from tinysquid.policy import automata as fa
from tinysquid.policy import ir
from tinysquid.policy import posix_regex as rx
from tinysquid.proof import check
from tinysquid.squid import acls
from tinysquid.squid.upstream import IP_LITERAL, site_acl_terms

SOURCE = check.SOURCE
EQUIVALENT, WITNESS, UNPROVEN = check.EQUIVALENT, check.WITNESS, check.UNPROVEN
_HOST = ir.MatchSubject.HOST


@dataclass(frozen=True, slots=True)
class SiteVerdict:
    """One site's (or client name's) proof. ``subject``: the witness host (or reverse-DNS name);
    ``tinyproxy_matches``: whether tinyproxy's side matched it."""

    proof: str
    reason: str = ""
    subject: str | None = None
    tinyproxy_matches: bool = False

    @property
    def request(self) -> str | None:
        return None if self.subject is None else f"GET http://{_url_host(self.subject)}/"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _shortest(left: fa.NFA | fa.DFA, right: fa.NFA | fa.DFA) -> fa.Difference | None:
    """The shortest host in the domain one side matches and the other does not (a name-like one
    preferred), or None when they agree on the whole domain."""
    best: fa.Difference | None = None
    for domain in check._domains(_HOST):
        diff = fa.compare(left, right, domain)
        if diff.witness is not None and (best is None or len(diff.witness) < len(best.witness or "")):
            best = diff
    if best is not None and best.witness is not None and check._HEXLIKE_TEXT.fullmatch(best.witness):
        for domain in check._domains(_HOST):
            diff = fa.compare(left, right, (*domain, (check._hexlike(), False)))
            if diff.witness is not None:
                return diff
    return best


def _ere_nfa(ere: str, *, icase: bool) -> fa.NFA:
    return fa.from_tree(rx.parse_ere(ere), icase=icase, search=True)


# --------------------------------------------------------------------------- upstream sites


def tinyproxy_site_nfa(site: ir.SiteMatch) -> fa.NFA:
    """The hosts tinyproxy routes by a name site (EXACT_HOST, SUBDOMAINS, TRAILING_DOT)."""
    lit = acls.literal_regex(site.value)
    if site.kind is ir.SiteKind.EXACT_HOST:
        return _ere_nfa(f"^{lit}$", icase=True)
    if site.kind is ir.SiteKind.SUBDOMAINS:
        return _ere_nfa(f"\\.{lit}$", icase=True)
    return _ere_nfa("\\.$", icase=False)


def squid_site_nfa(terms: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...]) -> fa.NFA:
    """The hosts squid routes by a name site's (single) ACL."""
    (_, acl_type, flags, values), = terms
    nfa, _notes = check._squid_nfa(tuple(acls.AclValue(acl_type, v, flags) for v in values), _HOST)
    return nfa


def _networks(site: ir.SiteMatch, terms: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...],
              ) -> tuple[list[ir.IPNetwork], list[ir.IPNetwork]]:
    """(tinyproxy's network, squid's dst networks) of an IP/mask site."""
    net = ipaddress.ip_network(site.value, strict=False)
    dst = [t for t in terms if t[0] != IP_LITERAL]
    if not dst:  # the IP-literal test alone: every address of either family
        theirs: list[ir.IPNetwork] = [ipaddress.IPv4Network("0.0.0.0/0"), ipaddress.IPv6Network("::/0")]
    else:
        theirs = [ipaddress.ip_network(v, strict=False) for v in dst[0][3]]
    ours: list[ir.IPNetwork] = [net]
    if net.prefixlen == 0 and net.version == 6:
        ours = [ipaddress.IPv4Network("0.0.0.0/0"), net]  # ::/0: every host tinyproxy reads as an address
    return ours, theirs


def _outside(nets: list[ir.IPNetwork], others: list[ir.IPNetwork]) -> str | None:
    """An address of ``nets`` in none of ``others``, or None."""
    for n in nets:
        rest: list[ir.IPNetwork] = [n]
        for o in others:
            if o.version != n.version:
                continue
            nxt: list[ir.IPNetwork] = []
            for r in rest:
                if r.subnet_of(o):  # type: ignore[arg-type]
                    continue
                if o.subnet_of(r):  # type: ignore[arg-type]
                    nxt.extend(r.address_exclude(o))  # type: ignore[arg-type]
                else:
                    nxt.append(r)
            rest = nxt
        if rest:
            return str(min(rest).network_address)
    return None


@lru_cache(maxsize=1024)
def prove_site(site: ir.SiteMatch | None) -> SiteVerdict:
    """The verdict for one upstream site taken alone."""
    if site is None or site.kind is ir.SiteKind.ANY_HOST:
        return SiteVerdict(EQUIVALENT, "every request, on both sides")
    try:
        terms = site_acl_terms(site)
    except acls.Unrepresentable:
        terms = (("", "dstdom_regex", ("-n",), ("^$",)),)  # what the renderer writes: no host
    if site.kind is ir.SiteKind.IP_NETWORK:
        ours, theirs = _networks(site, terms)
        only_tp, only_sq = _outside(ours, theirs), _outside(theirs, ours)
        if only_tp is None and only_sq is None:
            return SiteVerdict(EQUIVALENT, "the same address set on both sides; no host name matches either")
        return SiteVerdict(WITNESS, "", only_tp or only_sq, only_tp is not None)
    try:
        diff = _shortest(tinyproxy_site_nfa(site), squid_site_nfa(terms))
    except (fa.Unsupported, rx.RegexError, RecursionError) as exc:
        return SiteVerdict(UNPROVEN, str(exc) or type(exc).__name__)
    if diff is None or diff.witness is None:
        return SiteVerdict(EQUIVALENT, "automata")
    return SiteVerdict(WITNESS, "", diff.witness, diff.in_left)


class _Routes:
    """Which route each side takes for a host (first match), for the whole-list check."""

    def __init__(self, routes: tuple[ir.UpstreamRoute, ...]) -> None:
        self.routes = routes
        self._dfas: dict[int, tuple[fa.DFA, fa.DFA] | None] = {}

    def _matches(self, i: int, host: str) -> tuple[bool, bool]:
        site = self.routes[i].site
        if site is None or site.kind is ir.SiteKind.ANY_HOST:
            return True, True
        try:
            terms = site_acl_terms(site)
        except acls.Unrepresentable:
            terms = (("", "dstdom_regex", ("-n",), ("^$",)),)
        if site.kind is ir.SiteKind.IP_NETWORK:
            try:
                addr = ipaddress.ip_address(host)
            except ValueError:
                return False, False
            ours, theirs = _networks(site, terms)
            return (any(addr in n for n in ours if n.version == addr.version),
                    any(addr in n for n in theirs if n.version == addr.version))
        if i not in self._dfas:
            try:
                self._dfas[i] = (fa.determinize(tinyproxy_site_nfa(site)), fa.determinize(squid_site_nfa(terms)))
            except (fa.Unsupported, rx.RegexError, RecursionError):
                self._dfas[i] = None
        pair = self._dfas[i]
        if pair is None:
            return False, False
        return pair[0].accepts(host), pair[1].accepts(host.lower())

    def decide(self, host: str) -> tuple[int | None, int | None]:
        tp: int | None = None
        sq: int | None = None
        for i in range(len(self.routes)):
            a, b = self._matches(i, host)
            if a and tp is None:
                tp = i
            if b and sq is None:
                sq = i
            if tp is not None and sq is not None:
                break
        return tp, sq


def route_label(route: ir.UpstreamRoute | None) -> str:
    if route is None:
        return "direct (no route matches)"
    if route.kind is ir.UpstreamKind.DIRECT:
        return "direct (upstream none)"
    return f"{route.kind.value} parent {route.host}:{route.port}"


def _target(route: ir.UpstreamRoute | None) -> tuple[object, ...]:
    if route is None or route.kind is ir.UpstreamKind.DIRECT:
        return ("direct",)
    return (route.kind, route.host, route.port)


def prove_routes(upstream: ir.UpstreamPolicy) -> list[SiteVerdict | None]:
    """One verdict per route (None for a site-less default route); a witness that the whole route
    list sends to the same place on both sides is reported unproven instead."""
    routes = upstream.routes
    out: list[SiteVerdict | None] = [None if r.site is None else prove_site(r.site) for r in routes]
    whole = _Routes(routes)
    for i, v in enumerate(out):
        if v is None or v.proof != WITNESS or v.subject is None:
            continue
        tp, sq = whole.decide(v.subject)
        if _target(None if tp is None else routes[tp]) == _target(None if sq is None else routes[sq]):
            out[i] = SiteVerdict(UNPROVEN, f"the site differs from its squid form on {v.request}, but the other "
                                           "routes send that request to the same place on both sides; no other "
                                           "request was searched", v.subject, v.tinyproxy_matches)
    return out


def routes_taken(upstream: ir.UpstreamPolicy, host: str) -> tuple[str, str]:
    """(tinyproxy's route, squid's route) for ``host``, as labels."""
    routes = upstream.routes
    tp, sq = _Routes(routes).decide(host)
    return (route_label(None if tp is None else routes[tp]), route_label(None if sq is None else routes[sq]))


# --------------------------------------------------------------------------- client names

#: Client addresses a witness may name (documentation ranges, RFC 5737 / RFC 3849).
_WITNESS_CLIENTS = ("192.0.2.10", "198.51.100.10", "203.0.113.10", "2001:db8::10")


def _reverse_name(name: str) -> str:
    return ("client" + name) if name.startswith(".") else name


def prove_client(rule: ir.ClientRule, earlier: tuple[ir.ClientRule, ...],
                 admitted: tuple[ir.IPNetwork, ...] | None) -> SiteVerdict:
    """The verdict for one hostname Allow/Deny entry (``earlier``: the rules before it;
    ``admitted``: the addresses squid admits by number, None = every address)."""
    assert isinstance(rule.match, ir.ClientHostname)
    name = rule.match.name.lower()
    if rule.action is ir.Action.ALLOW:
        rname = _reverse_name(name)
        for addr_text in _WITNESS_CLIENTS:
            addr = ipaddress.ip_address(addr_text)
            if admitted is None or any(addr in n for n in admitted if n.version == addr.version):
                continue  # squid admits it by number: no difference there
            if any(_client_matches(r, addr, rname) for r in earlier):
                continue  # an earlier rule decides it in tinyproxy
            return SiteVerdict(WITNESS, f"a client at {addr} whose reverse-DNS name is {rname!r} (a hostname "
                                        "Allow is not carried over)", rname, True)
        return SiteVerdict(UNPROVEN, "the entry is not carried over, but every client address tried is decided "
                                     "by other rules; the clients only this entry admits are not searched")
    try:
        value = acls.client_name_value(name)
        left = _ere_nfa(acls.literal_regex(name) + "$", icase=True)
        right = _ere_nfa(acls.squid_compiled(value.value), icase="-i" in value.flags)
        diff = _shortest(left, right)
    except (acls.Unrepresentable, fa.Unsupported, rx.RegexError, RecursionError) as exc:
        return SiteVerdict(UNPROVEN, f"the reverse-DNS match could not be compared: {exc}")
    if diff is not None and diff.witness is not None:
        return SiteVerdict(WITNESS, f"a client whose reverse-DNS name is {diff.witness!r}", diff.witness,
                           diff.in_left)
    if fa.determinize(right).accepts("none"):
        return SiteVerdict(UNPROVEN, "the reverse-DNS match is equivalent (automata), but squid tests the name "
                                     "'none' for a client without reverse DNS, and this entry matches it")
    if not name.startswith("."):
        return SiteVerdict(UNPROVEN, "the reverse-DNS match is equivalent (automata); tinyproxy also refuses a "
                                     f"client whose address {name!r} resolves to, which depends on DNS at run "
                                     "time and has no squid form")
    return SiteVerdict(EQUIVALENT, "reverse-DNS suffix match: automata")


def _client_matches(rule: ir.ClientRule, addr: ipaddress.IPv4Address | ipaddress.IPv6Address, rname: str) -> bool:
    m = rule.match
    if isinstance(m, ir.ClientNetwork):
        return m.network.version == addr.version and addr in m.network
    return rname.lower().endswith(m.name.lower()) or not m.name.startswith(".")  # forward lookup: unknown


# --------------------------------------------------------------------------- into the report


def check_sites(policy: ir.Policy, report: Report) -> None:
    """Prove every upstream site and hostname client entry; record each verdict (TS805–TS808)."""
    routes = policy.upstream.routes
    clients = policy.clients.rules
    has_names = any(isinstance(r.match, ir.ClientHostname) for r in clients)
    if not routes and not has_names:
        return
    index: dict[tuple[str, int], list[int]] = {}
    for k, d in enumerate(report.diagnostics):
        if d.span is not None and d.status is not None:
            index.setdefault((d.span.path, d.span.line), []).append(k)
    for route, v in zip(routes, prove_routes(policy.upstream), strict=True):
        if v is None or route.site is None:
            continue
        if v.proof == EQUIVALENT:
            _annotate(report, index, route.origin)
        else:
            report.add(_route_finding(policy.upstream, route, v))
    decided = policy.clients.decided
    admitted = decided.admitted if decided is not None else None
    for i, rule in enumerate(clients):
        if not isinstance(rule.match, ir.ClientHostname):
            continue
        cv = prove_client(rule, clients[:i], admitted)
        if cv.proof == EQUIVALENT:
            _annotate(report, index, rule.origin)
        else:
            report.add(_client_finding(rule, cv))


def _annotate(report: Report, index: dict[tuple[str, int], list[int]], span: Span | None) -> None:
    """``"proof": "equivalent"`` on every status finding of the line (whichever one settles)."""
    if span is None:
        return
    for k in index.get((span.path, span.line), ()):
        d = report.diagnostics[k]
        if not d.data.get("proof"):
            report.diagnostics[k] = replace(d, data=MappingProxyType({**d.data, "proof": EQUIVALENT}))


def _route_finding(upstream: ir.UpstreamPolicy, route: ir.UpstreamRoute, v: SiteVerdict) -> Diagnostic:
    assert route.site is not None
    site = route.site.value
    data: dict[str, object] = {"proof": v.proof}
    if v.proof == WITNESS and v.subject is not None:
        tp, sq = routes_taken(upstream, v.subject)
        data.update(witness=v.request, tinyproxy_route=tp, squid_route=sq)
        return make("TS805", f"upstream site {site!r}: `{v.request}` goes {tp} in tinyproxy but {sq} in squid",
                    source=SOURCE, span=route.origin, data=data)
    data["reason"] = v.reason
    return make("TS806", f"upstream site {site!r}: its squid form is not proven to route alike: {v.reason}",
                source=SOURCE, span=route.origin, data=data)


def _client_finding(rule: ir.ClientRule, v: SiteVerdict) -> Diagnostic:
    assert isinstance(rule.match, ir.ClientHostname)
    what = f"{rule.action.value.title()} {rule.match.name}"
    data: dict[str, object] = {"proof": v.proof, "reason": v.reason}
    if v.proof == WITNESS:
        allowlike = rule.action is ir.Action.ALLOW
        admits = "tinyproxy" if v.tinyproxy_matches == allowlike else "squid"
        refuses = "squid" if admits == "tinyproxy" else "tinyproxy"
        data.update(witness=f"client reverse-DNS name {v.subject}", refused_by=refuses,
                    direction="narrowing" if refuses == "squid" else "widening")
        return make("TS807", f"client entry {what}: {v.reason}; {admits} admits it, {refuses} refuses it "
                    "(not sent by verify: a probe cannot choose its client's reverse-DNS name)",
                    source=SOURCE, span=rule.origin, data=data)
    return make("TS808", f"client entry {what}: not proven: {v.reason}", source=SOURCE, span=rule.origin, data=data)


__all__ = ["SiteVerdict", "check_sites", "prove_client", "prove_routes", "prove_site", "routes_taken"]
