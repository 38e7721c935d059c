"""Upstream pass: what happens to routes no back end can carry (SOCKS parents).

By default a SOCKS route stays in the IR as it is; the squid back end has no SOCKS parent, so it
declares no peer, refuses the route's requests (``http_access deny``, 403) and forbids direct
connections for them (``never_direct``): fail closed, TS260. ``socks_direct`` is the explicit opt-in to let them connect
directly instead: the route becomes a DIRECT route here, reported (TS290), so every back end
prints the same decision.
"""

from __future__ import annotations

from dataclasses import replace

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import make
from tinysquid.policy import ir

_SOCKS = (ir.UpstreamKind.SOCKS4, ir.UpstreamKind.SOCKS5)


def socks_direct(policy: ir.Policy, report: Report) -> ir.Policy:
    """Turn every SOCKS route into a DIRECT route for the same sites, one TS290 finding each."""
    routes = policy.upstream.routes
    if not any(r.kind in _SOCKS for r in routes):
        return policy
    out = []
    for r in routes:
        if r.kind in _SOCKS:
            report.add(make("TS290", f"{r.kind.value} upstream {r.host}:{r.port} goes direct (--socks-direct)",
                            source="convert", span=r.origin,
                            consequence="these requests leave through the proxy's own egress instead of "
                                        "the SOCKS parent"))
            r = ir.UpstreamRoute(ir.UpstreamKind.DIRECT, r.site, origin=r.origin)
        out.append(r)
    return replace(policy, upstream=ir.UpstreamPolicy(tuple(out)))
