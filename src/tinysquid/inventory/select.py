"""Which instances (and idle Elastic IPs) are the legacy proxy, and WHY each one was picked.

An instance is selected by ANY of four rules; every rule that fired is kept as a reason:
- ``tag``: it carries every ``--tag KEY=VALUE`` given (AND, exact, case-sensitive like EC2 filters);
- ``name``: its ``Name`` tag matches ``--name-pattern`` (fnmatch glob, case-sensitive);
- ``target-group``: it is a registered target of a target group whose port — or whose target's
  port — is the proxy port (the NLB forwards proxy traffic to it);
- ``security-group``: one of its security groups allows TCP ingress to the proxy port with a rule
  that names the port (a range narrower than all ports). "All traffic" rules (protocol -1) and
  0-65535 ranges do not count: the default security group allows all traffic from itself, which
  would pull in every decoy of the VPC.
Pure functions over boto3 dicts; no AWS call here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A rule spanning this many ports or more is "everything", not a statement about the proxy port.
_WIDE_RANGE = 1024


@dataclass(frozen=True, slots=True)
class Criteria:
    """The selection options: ``--tag`` pairs, ``--name-pattern`` and ``--proxy-port``."""

    tags: tuple[tuple[str, str], ...] = ()
    name_pattern: str | None = None
    proxy_port: int = 8888


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that selected a resource: the rule's name and a sentence naming the evidence."""

    rule: str
    detail: str

    def to_record(self) -> dict[str, str]:
        """JSON-ready."""
        return {"rule": self.rule, "detail": self.detail}


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    """``Tags: [{Key, Value}]`` as a dict."""
    return {t["Key"]: t.get("Value", "") for t in resource.get("Tags", []) or []}


def _tag_reasons(tags: Mapping[str, str], criteria: Criteria) -> list[Reason]:
    out: list[Reason] = []
    if criteria.tags and all(tags.get(k) == v for k, v in criteria.tags):
        out.append(Reason("tag", "tags " + ", ".join(f"{k}={v}" for k, v in criteria.tags)))
    name = tags.get("Name")
    if criteria.name_pattern and name is not None and fnmatch.fnmatchcase(name, criteria.name_pattern):
        out.append(Reason("name", f"Name {name!r} matches {criteria.name_pattern!r}"))
    return out


def _rule_opens_port(perm: Mapping[str, Any], port: int) -> bool:
    if perm.get("IpProtocol") not in ("tcp", "6"):
        return False
    lo, hi = perm.get("FromPort"), perm.get("ToPort")
    if lo is None or hi is None:
        return False
    return bool(lo <= port <= hi and (hi - lo) < _WIDE_RANGE)


def rule_sources(perm: Mapping[str, Any]) -> list[str]:
    """The sources of one rule: CIDRs, IPv6 CIDRs, prefix lists and referenced security groups."""
    out = [r["CidrIp"] for r in perm.get("IpRanges", []) if "CidrIp" in r]
    out += [r["CidrIpv6"] for r in perm.get("Ipv6Ranges", []) if "CidrIpv6" in r]
    out += [r["PrefixListId"] for r in perm.get("PrefixListIds", []) if "PrefixListId" in r]
    out += [r["GroupId"] for r in perm.get("UserIdGroupPairs", []) if "GroupId" in r]
    return out


def proxy_port_groups(security_groups: Iterable[Mapping[str, Any]], port: int) -> dict[str, str]:
    """Security group id → a sentence, for the groups allowing TCP ingress to the proxy port."""
    out: dict[str, str] = {}
    for sg in security_groups:
        for perm in sg.get("IpPermissions", []):
            if _rule_opens_port(perm, port):
                sources = ", ".join(rule_sources(perm)) or "nowhere"
                out[sg["GroupId"]] = (f"security group {sg['GroupId']} ({sg.get('GroupName', '')}) allows "
                                      f"tcp/{perm['FromPort']}-{perm['ToPort']} from {sources}")
                break
    return out


def proxy_port_targets(target_groups: Iterable[Mapping[str, Any]],
                       target_health: Mapping[str, Sequence[Mapping[str, Any]]], port: int) -> dict[str, list[str]]:
    """Instance id → sentences, for instances registered in a target group on the proxy port."""
    out: dict[str, list[str]] = {}
    for tg in target_groups:
        if tg.get("TargetType", "instance") != "instance":
            continue
        for desc in target_health.get(tg["TargetGroupArn"], []):
            target = desc.get("Target", {})
            tport = target.get("Port", tg.get("Port"))
            if tg.get("Port") == port or tport == port:
                out.setdefault(target["Id"], []).append(
                    f"target of target group {tg.get('TargetGroupName', tg['TargetGroupArn'])} on port {tport}")
    return out


def select_instances(instances: Iterable[Mapping[str, Any]], security_groups: Iterable[Mapping[str, Any]],
                     target_groups: Iterable[Mapping[str, Any]],
                     target_health: Mapping[str, Sequence[Mapping[str, Any]]],
                     criteria: Criteria) -> dict[str, list[Reason]]:
    """Instance id → the reasons it is a proxy; instances with no reason (decoys) are absent."""
    sg_hits = proxy_port_groups(security_groups, criteria.proxy_port)
    tg_hits = proxy_port_targets(target_groups, target_health, criteria.proxy_port)
    selected: dict[str, list[Reason]] = {}
    for inst in instances:
        iid = inst["InstanceId"]
        reasons = _tag_reasons(tags_of(inst), criteria)
        reasons += [Reason("target-group", s) for s in tg_hits.get(iid, [])]
        reasons += [Reason("security-group", sg_hits[g["GroupId"]])
                    for g in inst.get("SecurityGroups", []) if g["GroupId"] in sg_hits]
        if reasons:
            selected[iid] = reasons
    return selected


def select_idle_addresses(addresses: Iterable[Mapping[str, Any]], criteria: Criteria) -> dict[str, list[Reason]]:
    """Allocation id → reasons, for UNassociated Elastic IPs matching ``--tag`` or ``--name-pattern``.

    Only the explicit tag/name rules apply: an idle address has no port, target group or security
    group to go by.
    """
    out: dict[str, list[Reason]] = {}
    for addr in addresses:
        if addr.get("AssociationId") or addr.get("InstanceId") or addr.get("NetworkInterfaceId"):
            continue
        reasons = _tag_reasons(tags_of(addr), criteria)
        if reasons:
            out[addr.get("AllocationId") or addr["PublicIp"]] = reasons
    return out
