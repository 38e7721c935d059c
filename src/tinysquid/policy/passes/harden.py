"""Hardening pass: deliberate narrowing tinyproxy did not do, each measure reported as ``hardening``.

Three measures (issue #2 "Hardening"): refuse the cloud-metadata / link-local destinations, keep the
proxy's management pages for localhost only, and pin ``max_filedescriptors``. The back end renders
``policy.hardening``; this pass only decides and reports.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import make
from tinysquid.policy import ir

METADATA_NETWORKS: tuple[ir.IPNetwork, ...] = (
    ipaddress.IPv4Network("169.254.0.0/16"),  # IMDS 169.254.169.254, ECS 169.254.170.2, link-local
    ipaddress.IPv6Network("fe80::/10"),  # IPv6 link-local (IMDSv6 is fd00:ec2::254, see below)
    ipaddress.IPv6Network("fd00:ec2::254/128"),  # EC2 IMDS over IPv6 (Nitro)
)

# Kubernetes nodes often hand containers RLIMIT_NOFILE = 1048576; squid sizes per-fd tables from it
# (hundreds of MB). 65536 covers ~30k concurrent tunnels (two fds each) and stays small.
MIN_FILEDESCRIPTORS = 65536


def filedescriptor_cap(max_clients: int) -> int:
    """The explicit fd cap: at least 65536, and 4 fds per tinyproxy MaxClients slot, as a power of 2."""
    want = max(MIN_FILEDESCRIPTORS, 4 * max(max_clients, 0))
    return 1 << (want - 1).bit_length()


def harden(policy: ir.Policy, report: Report, *, squid_version: str) -> ir.Policy:
    """Fill ``policy.hardening`` and report one ``hardening`` finding per measure (with a subject).

    ``squid_version`` is recorded in the findings: squid 6 has a built-in ``to_linklocal`` ACL, 5.7
    does not, so the back end always declares its own ACL.
    """
    fds = filedescriptor_cap(policy.limits.max_clients)
    nets = ", ".join(str(n) for n in METADATA_NETWORKS)
    report.add(make(
        "TS300", f"requests to {nets} are refused with 403", source="convert", subject="hardening.deny_destinations",
        consequence="pods cannot use the proxy to read instance credentials; a host name that resolves into "
                    "these ranges is refused too where squid connects itself (for requests handed to a parent "
                    "proxy only IP-address requests are checked: the parent resolves the name)",
        data={"networks": [str(n) for n in METADATA_NETWORKS], "squid_version": squid_version}))
    report.add(make(
        "TS301", "cache-manager pages (/squid-internal-mgr/) answer to localhost only", source="convert",
        subject="hardening.manager_localhost_only",
        consequence="only the squid-exporter sidecar in the same pod can read squid's counters"))
    report.add(make(
        "TS302", f"max_filedescriptors {fds}", source="convert", subject="hardening.max_filedescriptors",
        consequence=f"squid serves at most about {fds // 2} concurrent tunnels per pod",
        data={"max_filedescriptors": fds}))
    from tinysquid.policy.passes.cidrs import AddressSet

    disjoint = tuple(AddressSet.of(METADATA_NETWORKS).networks())  # widest first, never overlapping
    return replace(policy, hardening=ir.Hardening(deny_destinations=disjoint,
                                                  manager_localhost_only=True, max_filedescriptors=fds))
