"""Pure passes over the Policy IR, in run order. Each takes (Policy, Report[, options]) → Policy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinysquid.diagnostics import Report
from tinysquid.policy import ir

if TYPE_CHECKING:
    from tinysquid.options import ConvertOptions


def run_passes(policy: ir.Policy, options: ConvertOptions, report: Report) -> ir.Policy:
    """Run every pass in order: collapse CIDRs, decide the effective client sets, recognise literal
    domains, lint legacy holes, tighten (opt-in), SOCKS routes direct (opt-in), harden (opt-out)."""
    from tinysquid.policy.passes import cidrs, domains, harden, legacy, upstream

    policy = cidrs.collapse_cidrs(policy, report)
    policy = cidrs.decide(policy, report)
    policy = domains.recognize_domains(policy, report)
    policy = legacy.lint_legacy_holes(policy, report, tighten=options.tighten)
    if options.socks_direct:
        policy = upstream.socks_direct(policy, report)
    if options.harden:
        policy = harden.harden(policy, report, squid_version=str(options.squid_version))
    return policy
