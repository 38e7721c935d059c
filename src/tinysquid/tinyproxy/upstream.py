"""Upstream lines → :class:`~tinysquid.policy.ir.UpstreamRoute`, as each version's ``upstream.c`` reads them.

Sites: 1.11 parses them with ``hostspec_parse`` (names, suffixes, IP/mask); 1.8 and 1.10 compare
strings, except IP/mask on ``none`` rules. Rules tinyproxy drops return None with their finding.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from tinysquid.diagnostics.model import Status
from tinysquid.policy import ir
from tinysquid.tinyproxy.findings import LineFindings
from tinysquid.tinyproxy.hostspec import U32, inet_aton, parse_hostspec
from tinysquid.tinyproxy.nodes import Stmt, UpstreamArgs

_TYPES = {"http": ir.UpstreamKind.HTTP, "socks4": ir.UpstreamKind.SOCKS4, "socks5": ir.UpstreamKind.SOCKS5}


def site_spec(st: LineFindings, text: str, *, none_rule: bool) -> tuple[Any, ...]:
    """A site spec as the version's upstream code reads it:
    ("site", SiteMatch) | ("default", why) | ("drop", why, status) | ("invalid",)."""
    if st.g.ip_site_for_proxies:  # 1.11: hostspec_parse / hostspec_match
        spec = parse_hostspec(text, dotted_masks=True)
        if spec is None:
            return ("invalid",)
        if isinstance(spec, str):
            if spec == ".":
                return ("site", ir.SiteMatch(ir.SiteKind.TRAILING_DOT, "."))
            if spec.startswith("."):
                return ("site", ir.SiteMatch(ir.SiteKind.SUBDOMAINS, spec[1:].lower()))
            return ("site", ir.SiteMatch(ir.SiteKind.EXACT_HOST, spec.lower()))
        if spec.prefixlen == 0 and spec.version == 6:  # ::/0: an all-zero mask matches every host;
            # an IPv4 /0 keeps the ::ffff:0:0/96 mask (fill_netmask_array adds 96 bits): IPv4 literals only
            return ("site", ir.SiteMatch(ir.SiteKind.ANY_HOST, str(spec)))
        return ("site", ir.SiteMatch(ir.SiteKind.IP_NETWORK, str(spec)))
    # 1.8.4 / 1.10.0 upstream_build + upstream_get: sites are strings, except IP/mask on none rules
    if "/" in text:
        if not none_rule:
            return ("drop", "an IP/mask site on a proxy rule is compared as a string and never matched "
                    "before tinyproxy 1.11.0 (issue #363)", Status.DROPPED_BY_TINYPROXY)
        if st.g.version == "1.8":  # inet_aton runs on the whole "a.b.c.d/n" text and fails
            return ("default", "tinyproxy 1.8 cannot parse IP/mask sites: the rule becomes a site-less "
                    "(default) rule that connects directly")
        addr_text, _, mask_text = text.partition("/")
        ip = inet_aton(addr_text)
        if ip is None or ip == 0:
            return ("default", "tinyproxy 1.10 stores no address for this site: the rule becomes a "
                    "site-less (default) rule that connects directly")
        if "." in mask_text:
            mask = inet_aton(mask_text) or 0
        else:
            m = re.match(r"\s*[+-]?\d*", mask_text)
            bits = int(m.group(0)) if m and m.group(0).strip() not in ("", "+", "-") else 0
            if not 0 <= bits <= 32:
                return ("drop", f"the mask /{mask_text} is undefined behaviour in tinyproxy 1.10",
                        Status.UNSUPPORTED)
            mask = U32 if bits == 0 else (~((1 << (32 - bits)) - 1)) & U32  # 1 << 32 is 1 on x86
        if ip & ~mask & U32:
            return ("drop", "the address has bits outside its mask, so the rule never matched",
                    Status.DROPPED_BY_TINYPROXY)
        if ip == mask:  # hostnames read as 255.255.255.255 (inet_addr failure) and would match
            return ("drop", "this network also matched every hostname in tinyproxy 1.10", Status.UNSUPPORTED)
        prefix = bin(mask).count("1")
        if mask != (U32 << (32 - prefix)) & U32:
            return ("drop", "a non-contiguous mask has no exact form", Status.UNSUPPORTED)
        return ("site", ir.SiteMatch(ir.SiteKind.IP_NETWORK, str(ipaddress.IPv4Network((ip, prefix)))))
    if text == ".":
        return ("drop", "the site \".\" matched dotless and trailing-dot hosts before tinyproxy 1.11.1; "
                "the IR has no such site", Status.UNSUPPORTED)
    if text.startswith("."):
        return ("site", ir.SiteMatch(ir.SiteKind.SUBDOMAINS, text[1:].lower()))
    return ("site", ir.SiteMatch(ir.SiteKind.EXACT_HOST, text.lower()))


_Result = tuple[ir.UpstreamRoute | None, bool]


def lower_upstream(st: LineFindings, s: Stmt) -> _Result:
    """The route a line adds (None when tinyproxy drops it) and whether a finding was already set.

    Three steps, as ``upstream_add`` takes them: the rule's type (:func:`_rule_kind`), then a
    default rule (:func:`_default_route`) or a rule for a site (:func:`_site_route`).
    """
    u: UpstreamArgs = s.args[0]
    kind = _rule_kind(st, s, u)
    if not isinstance(kind, ir.UpstreamKind):
        return kind  # the type word decided the line already
    if u.site is None:
        return _default_route(st, s, u, kind)
    return _site_route(st, s, u, kind)


def _rule_kind(st: LineFindings, s: Stmt, u: UpstreamArgs) -> ir.UpstreamKind | _Result:
    """The upstream type a line names (``pt_from_string``), or the line's result when the type word
    alone decides it (a wrongly cased ``none``, an unknown type)."""
    span, word = s.span, u.type_text
    if u.host is None:  # a none rule (1.10's handle_upstream_no does not look at the word's case)
        if word != "none" and st.g.version != "1.10":
            st.status("TS121", f"upstream {word} \"{u.site}\": the type must be lower case; tinyproxy drops "
                      "the rule", span, consequence="requests for the site use the other upstream rules")
            return None, True
        return ir.UpstreamKind.DIRECT
    found = _TYPES.get(word)  # pt_from_string: strcmp, unknown → PT_NONE
    if found is not None:
        return found
    if u.site is None:
        if st.g.version == "1.10":  # upstream_build 1.10 keeps it: a default parent of type "none"
            st.status("TS121", f"upstream {word} {u.host}:{u.port}: the type must be lower case; "
                      "tinyproxy 1.10 keeps it as a default parent of type none, whose behaviour is "
                      "undefined", span, status=Status.UNSUPPORTED,
                      consequence="not carried over: requests go direct unless another rule matches")
            return None, True
        st.status("TS121", f"upstream {word} {u.host}:{u.port}: the type must be lower case; tinyproxy "
                  "drops the rule", span, consequence="no default upstream from this line: requests "
                  "go direct unless another rule matches")
        return None, True
    site = site_spec(st, u.site, none_rule=True)
    if site[0] != "site":
        st.status("TS123", f"upstream site {u.site!r} is not valid; tinyproxy drops the rule", span)
        return None, True
    st.status("TS121", f"upstream {word} …:{u.port} \"{u.site}\": the type must be lower case; "
              "tinyproxy treats the line as `upstream none` for the site", span,
              consequence="requests for the site connect directly, in tinyproxy and in the conversion")
    return ir.UpstreamRoute(ir.UpstreamKind.DIRECT, site[1], origin=span), True


def _default_route(st: LineFindings, s: Stmt, u: UpstreamArgs, kind: ir.UpstreamKind) -> _Result:
    """A site-less rule: the default parent, which needs a port ≥ 1."""
    if kind is ir.UpstreamKind.DIRECT:  # pragma: no cover - the grammar requires a site for none
        return None, True
    if u.port is None or u.port & U32 == 0 or u.port > 0x7FFFFFFF:
        st.status("TS124", f"upstream {u.type_text} {u.host}:{u.port}: a default upstream needs a port ≥ 1; "
                  "tinyproxy drops the rule", s.span)
        return None, True
    return ir.UpstreamRoute(kind, None, u.host, u.port, _creds(u), s.span), False


def _site_route(st: LineFindings, s: Stmt, u: UpstreamArgs, kind: ir.UpstreamKind) -> _Result:
    """A rule for a site: the site as this version reads it (:func:`site_spec`) decides the route."""
    span = s.span
    assert u.site is not None
    if not st.g.ip_site_for_proxies and kind is not ir.UpstreamKind.DIRECT and (u.port is None or u.port & U32 == 0):
        st.status("TS124", f"upstream {u.host}:{u.port} for {u.site!r}: the port must be ≥ 1; tinyproxy "
                  f"{st.g.version} drops the rule", span)
        return None, True
    site = site_spec(st, u.site, none_rule=kind is ir.UpstreamKind.DIRECT)
    if site[0] == "invalid":
        st.status("TS123", f"upstream site {u.site!r} is not valid (\"host\", \".domain\" or \"IP/mask\"); "
                  "tinyproxy drops the rule", span)
        return None, True
    if site[0] == "drop":
        st.status("TS123", f"upstream site {u.site!r}: {site[1]}; the rule is not carried over", span,
                  status=site[2])
        return None, True
    if site[0] == "default":
        st.status("TS133", f"upstream site {u.site!r}: {site[1]}", span,
                  consequence="unless an earlier default exists, requests no later rule matches connect directly, "
                              "in tinyproxy and in the conversion")
        return ir.UpstreamRoute(ir.UpstreamKind.DIRECT, None, origin=span), True
    if kind is ir.UpstreamKind.DIRECT:
        return ir.UpstreamRoute(kind, site[1], origin=span), False
    return ir.UpstreamRoute(kind, site[1], u.host, u.port, _creds(u), span), False


def _creds(u: UpstreamArgs) -> ir.Credentials | None:
    # research notes §6.4: socks4 is really socks4a without a user id; tinyproxy ignores credentials
    if u.user is None or u.type_text == "socks4":
        return None
    return ir.Credentials(u.user, u.password)


def describe_route(route: ir.UpstreamRoute, u: UpstreamArgs) -> str:
    where = "default" if route.site is None else f"{route.site.kind.value} {route.site.value!r}"
    if route.kind is ir.UpstreamKind.DIRECT:
        return f"upstream none → direct for {where}"
    creds = " with credentials (kept as a secret)" if route.credentials else ""
    if u.user is not None and route.credentials is None:
        creds = " (tinyproxy ignores credentials for socks4)"
    return f"upstream {route.kind.value} {route.host}:{route.port}{creds} for {where}"



__all__ = ["describe_route", "lower_upstream", "site_spec"]
