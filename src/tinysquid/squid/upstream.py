"""Upstream routes → cache_peer, cache_peer_access, always_direct/never_direct (first match), and
the hardening ``dst`` lines, which depend on where each request leaves the proxy."""

from __future__ import annotations

import ipaddress

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import make
from tinysquid.policy import ir
from tinysquid.squid import acls
from tinysquid.squid.conf import (
    _IP_LITERAL_RES,
    SOURCE,
    _clean,
    _Conf,
    _ere_escape,
    _net_text,
    _where,
    squid_token,
)


def _hardening_rules(upstream: ir.UpstreamPolicy, matchers: list[list[str]]) -> list[str]:
    """The metadata deny lines. ``dst`` makes squid resolve a host name, which it must do anyway for a
    request it connects to itself; for requests handed to a parent proxy it would be an extra lookup
    squid may not even be able to do (the parent resolves). So: IP-literal requests are always
    checked without DNS; host names only where they can go direct (a DIRECT route's sites, or every
    request no route matches when there is no default route). Decisions for hosts that do not
    resolve into the denied ranges are unchanged either way."""
    routes = upstream.routes
    lines = ["# hardening: refuse metadata / link-local destinations"]
    if all(r.kind is ir.UpstreamKind.DIRECT for r in routes):
        lines.append("http_access deny ts_deny_dst")
        return lines
    lines.append("http_access deny ts_ip_literal ts_deny_dst")
    for route, matcher in zip(routes, matchers, strict=True):
        if route.kind is ir.UpstreamKind.DIRECT:
            lines.append(f"http_access deny {' '.join(matcher) or 'all'} ts_deny_dst")
    has_default = any(not m for r, m in zip(routes, matchers, strict=True) if r.kind is not ir.UpstreamKind.DIRECT)
    if not has_default:
        parent_matchers = [m for r, m in zip(routes, matchers, strict=True) if r.kind is not ir.UpstreamKind.DIRECT]
        if all(len(m) == 1 for m in parent_matchers):
            # requests no parent route takes go direct: "none of the parent sites" is an AND of negations
            lines.append("http_access deny " + " ".join(f"!{m[0]}" for m in parent_matchers) + " ts_deny_dst")
        else:
            lines.append("http_access deny ts_deny_dst")  # cannot say "no parent route" in one line
    return lines


def _socks_denials(acl_conf: _Conf, upstream: ir.UpstreamPolicy, matchers: list[list[str]]) -> list[str]:
    """http_access lines refusing every request whose first matching route is a SOCKS parent.

    squid has no SOCKS parent. ``never_direct`` alone makes squid try to forward and fail
    (ERR_CANNOT_FORWARD after its DNS and peer selection), an answer that cannot be told apart from a
    forwarding error; refusing at http_access time is an ordinary 403 decided before any lookup.
    "First matching route" is ``route i`` and none of the earlier non-SOCKS routes (earlier SOCKS
    routes are refused by their own line): a route whose sites need more than one ACL is named once
    as an ``all-of`` ACL so that it can be negated."""
    lines: list[str] = []
    earlier: list[str] = []
    for i, (route, matcher) in enumerate(zip(upstream.routes, matchers, strict=True), 1):
        if not matcher:
            name = "all"
        elif len(matcher) == 1:
            name = matcher[0]
        elif route.kind in (ir.UpstreamKind.SOCKS4, ir.UpstreamKind.SOCKS5):
            name = " ".join(matcher)  # ANDed on the deny line itself; never negated
        else:
            name = f"ts_up_route_{i}"
            acl_conf.add(f"acl {name} all-of {' '.join(matcher)}")
        socks = route.kind in (ir.UpstreamKind.SOCKS4, ir.UpstreamKind.SOCKS5)
        if socks:
            lines.append(" ".join(["http_access deny", *(f"!{e}" for e in earlier), name]))
        if name == "all":
            break  # a default route takes every request not taken before: later routes never apply
        if not socks:
            earlier.append(name)
    if lines:
        lines.insert(0, "# SOCKS upstream routes have no squid form: their requests are refused (TS260)")
    return lines


_NO_HOST = "^$"  # squid never tests an empty host: matches no request
IP_LITERAL = "ts_ip_literal"

#: One ACL of a route's site: its name suffix ("" = the route's own ``ts_up_site_N``, or
#: :data:`IP_LITERAL`), type, flags and values. A route matches when every term does (AND).
SiteTerm = tuple[str, str, tuple[str, ...], tuple[str, ...]]


def site_acl_terms(site: ir.SiteMatch | None) -> tuple[SiteTerm, ...]:
    """What squid tests for an upstream site, as ANDed ACLs; ``()`` = every request. The proof
    (``tinysquid.proof.sites``) reads exactly these values.

    Raises:
        acls.Unrepresentable: a site name no squid.conf token can carry.
    """
    if site is None or site.kind is ir.SiteKind.ANY_HOST:
        return ()
    value = site.value.lower()
    if site.kind is ir.SiteKind.EXACT_HOST:
        v = acls.host_equals_value(value)
        return (("", v.acl_type, v.flags, (v.value,)),)
    if site.kind is ir.SiteKind.SUBDOMAINS:
        # squid's ".x" matches the apex too; tinyproxy's ".x" does not: a regex keeps the apex out.
        token = squid_token(r"\." + _ere_escape(value.strip(".")) + "$")
        return (("", "dstdom_regex", ("-n", "-i"), (token,)),)
    if site.kind is ir.SiteKind.TRAILING_DOT:
        return (("", "dstdom_regex", ("-n",), (r"\.$",)),)
    # IP_NETWORK: only IP-literal hosts (tinyproxy never resolves names here). `dst` alone would
    # resolve hostnames, so it is ANDed with an IP-literal test that fails first for names.
    net = ipaddress.ip_network(value, strict=False)
    literal: SiteTerm = (IP_LITERAL, "dstdom_regex", ("-n", "-i"), _IP_LITERAL_RES)
    if net.prefixlen == 0 and net.version == 6:
        return (literal,)
    # squid reads 0.0.0.0/0 as `all` (IPv6 too): the whole IPv4 space is written as two halves
    nets: list[ir.IPNetwork] = list(net.subnets(prefixlen_diff=1)) if net.prefixlen == 0 else [net]
    return (literal, ("", "dst", (), tuple(_net_text(n) for n in nets)))


def _site_acls(conf: _Conf, index: int, route: ir.UpstreamRoute, report: Report) -> list[str]:
    """ACL names (ANDed) that match this route's sites; [] means every request."""
    site = route.site
    if site is None or site.kind is ir.SiteKind.ANY_HOST:
        return []
    name = f"ts_up_site_{index}"
    value = site.value.lower()
    if site.kind in (ir.SiteKind.EXACT_HOST, ir.SiteKind.SUBDOMAINS) and value.endswith("."):
        report.add(make("TS262", f"upstream site {site.value!r} ends with a dot: tinyproxy routed only hosts "
                        "written with that dot; squid strips trailing dots, so the route applies to the "
                        "host with and without it", source=SOURCE, span=route.origin))
    elif site.kind in (ir.SiteKind.EXACT_HOST, ir.SiteKind.SUBDOMAINS):
        report.add(make("TS262", f"upstream site {site.value!r} also takes requests for its hosts written with "
                        "a trailing dot (squid strips it; tinyproxy compared the name as written)",
                        source=SOURCE, span=route.origin))
    elif site.kind is ir.SiteKind.TRAILING_DOT:
        report.add(make("TS262", "upstream site \".\" (hosts written with a trailing dot) has no squid form: "
                        "squid strips the trailing dot while parsing the URL, so this route never applies",
                        source=SOURCE, span=route.origin,
                        consequence="requests for 'host.' take the next matching route (or go direct)"))
    else:
        # tinyproxy's hostspec_match reads the host with full_inet_pton (inet_aton first), so
        # 2130706433, 0x7f.0.0.1, 127.1 and ::ffff:127.0.0.1 are addresses on both sides (checked
        # with the real 1.11.1); only an address written with a trailing dot is a name to tinyproxy.
        report.add(make("TS262", f"upstream site {site.value} matches IP-address hosts: an address written "
                        "with a trailing dot (127.0.0.1.) is a name to tinyproxy, which never routes it here, "
                        "while squid strips the dot and routes it as the address (odd spellings such as "
                        "2130706433 or 127.1 are addresses to both)", source=SOURCE, span=route.origin,
                        consequence="a trailing-dot address request takes this route in squid"))
    try:
        terms = site_acl_terms(site)
    except acls.Unrepresentable as why:
        report.add(make("TS262", f"upstream site {site.value!r} cannot be written for squid ({why}): the "
                        "route applies to no host", source=SOURCE, span=route.origin))
        terms = (("", "dstdom_regex", ("-n",), (_NO_HOST,)),)
    names = []
    for suffix, acl_type, flags, values in terms:
        if suffix == IP_LITERAL:
            names.append(IP_LITERAL)  # declared once, by the renderer
            continue
        conf.acl(name, acl_type, list(values), flags=" ".join(flags))
        names.append(name)
    return names


def _upstream_matchers(acls: _Conf, upstream: ir.UpstreamPolicy, report: Report) -> list[list[str]]:
    """Declare each route's site ACLs into ``acls``; per route, the ACL names (ANDed) matching it."""
    matchers: list[list[str]] = []
    if upstream.routes:
        acls.comment("upstream route sites (tinyproxy: last matching scoped rule wins; here in evaluation order)")
    for i, route in enumerate(upstream.routes, 1):
        site = route.site
        label = "default" if site is None else f"{site.kind.value} {site.value}".strip()
        acls.comment(f"{_where(route.origin)} route {i}: {label} → {route.kind.value}"
                     + (f" {route.host}:{route.port}" if route.host else ""))
        matchers.append(_site_acls(acls, i, route, report))
    return matchers


def _upstream(conf: _Conf, upstream: ir.UpstreamPolicy, matchers: list[list[str]], report: Report) -> None:
    routes = upstream.routes
    if not routes:
        return
    conf.section("upstream routes, first match (sites are declared with the other ACLs)")
    peers: list[str] = []
    peer_access: list[str] = []
    for i, route in enumerate(routes, 1):
        if route.kind is ir.UpstreamKind.HTTP and not 0 < (route.port or 0) < 65536:
            # tinyproxy's documented "null route" (`upstream http 0.0.0.0:0 ".ads.com"`): the connect
            # fails and the client gets 502. squid refuses a peer on port 0 (FATAL), so the sites get
            # no peer at all; never_direct below keeps them from going direct (502/500).
            report.add(make("TS263", f"upstream {route.host}:{route.port} (port 0) is a null route: matching "
                            "requests fail, as in tinyproxy", source=SOURCE, span=route.origin))
            peers.append(f"# route {i}: {route.host}:{route.port} is a null route (no peer; requests fail)")
        elif route.kind is ir.UpstreamKind.HTTP:
            peer = f"ts_peer_{i}"
            host = (route.host or "").strip("[]")
            opts = f"no-query no-digest name={peer}"
            if route.credentials is not None:
                user = _clean(route.credentials.user).replace("%", "%%").replace(" ", "%20")
                placeholder = f"TS_UPSTREAM_PASSWORD_{i}"
                opts += f" login={user}:{placeholder}"
                report.add(make("TS261", f"the password of upstream {host}:{route.port} is written as "
                                f"{placeholder}", source=SOURCE, span=route.origin,
                                hint=f"replace {placeholder} at deploy time from a Secret (helm-secrets/SOPS, "
                                     "ArgoCD Vault Plugin or a post-renderer); write a literal % as %%"))
            peers.append(f"cache_peer {host} parent {route.port} 0 {opts}")
            for earlier in matchers[: i - 1]:
                peer_access.append(f"cache_peer_access {peer} deny {' '.join(earlier) or 'all'}")
            if matchers[i - 1]:
                peer_access.append(f"cache_peer_access {peer} allow {' '.join(matchers[i - 1])}")
                peer_access.append(f"cache_peer_access {peer} deny all")
            else:
                peer_access.append(f"cache_peer_access {peer} allow all")
        elif route.kind in (ir.UpstreamKind.SOCKS4, ir.UpstreamKind.SOCKS5):
            report.add(make("TS260", f"{route.kind.value} upstream {route.host}:{route.port} is not carried over; "
                            "matching requests are refused (403) instead of going direct", source=SOURCE, span=route.origin))
            peers.append(f"# route {i}: {route.kind.value} {route.host}:{route.port} has no squid form; an "
                         "HTTP-to-SOCKS bridge sidecar could be declared as:")
            peers.append(f"# cache_peer 127.0.0.1 parent 8118 0 no-query no-digest name=ts_peer_{i}")
    conf.lines.extend(peers)
    conf.lines.extend(peer_access)

    # always_direct is consulted before never_direct; both are first match. Walking the routes in
    # evaluation order, a DIRECT route says "always_direct allow", any other route "deny" (so a later
    # DIRECT route cannot capture it) plus "never_direct allow" (CONNECT, POST and authenticated
    # requests are non-hierarchical and would otherwise go direct).
    last_direct = max((i for i, r in enumerate(routes) if r.kind is ir.UpstreamKind.DIRECT), default=-1)
    for i, route in enumerate(routes):
        if i > last_direct:
            break
        verdict = "allow" if route.kind is ir.UpstreamKind.DIRECT else "deny"
        conf.add(f"always_direct {verdict} {' '.join(matchers[i]) or 'all'}")
    for i, route in enumerate(routes):
        if route.kind is not ir.UpstreamKind.DIRECT:
            conf.add(f"never_direct allow {' '.join(matchers[i]) or 'all'}")
