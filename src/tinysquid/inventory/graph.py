"""The relationships: EIP ↔ ENI ↔ instance ↔ target group ↔ listener ↔ NLB ↔ Route 53, SG ↔ instance.

``relate_region`` turns one region's raw descriptions plus the selection into the document's record
lists (only what touches a selected instance or a selected idle address) and graph edges;
``relate_dns`` matches Route 53 records to those load balancers (alias or CNAME to their DNS name)
and to the instances' addresses (A records). Pure functions; node ids are ``kind:id``.

Each AWS relation is one step registered with ``@_relation(kind)`` in :data:`RELATIONS`, run in
registration order over one :class:`_Region` (a new resource kind is one new step).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tinysquid.inventory.select import Reason, rule_sources, tags_of


@dataclass
class Records:
    """The document's record lists and graph edges for one region (or merged over regions)."""

    instances: list[dict[str, Any]] = field(default_factory=list)
    elastic_ips: list[dict[str, Any]] = field(default_factory=list)
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    target_groups: list[dict[str, Any]] = field(default_factory=list)
    listeners: list[dict[str, Any]] = field(default_factory=list)
    security_groups: list[dict[str, Any]] = field(default_factory=list)
    auto_scaling_groups: list[dict[str, Any]] = field(default_factory=list)
    nat_gateways: list[dict[str, Any]] = field(default_factory=list)
    dns_records: list[dict[str, Any]] = field(default_factory=list)
    egress_ips: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, str]] = field(default_factory=list)

    def merge(self, other: Records) -> None:
        """Append another region's records."""
        for name in self.__dataclass_fields__:
            getattr(self, name).extend(getattr(other, name))


def edge(src: str, dst: str, relation: str) -> dict[str, str]:
    """One graph edge, ``from`` → ``to``."""
    return {"from": src, "to": dst, "relation": relation}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _perm_records(perms: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"protocol": p.get("IpProtocol"), "from_port": p.get("FromPort"), "to_port": p.get("ToPort"),
             "sources": rule_sources(p)} for p in perms]


def _bool_attr(attrs: Mapping[str, str], key: str) -> bool | None:
    value = attrs.get(key)
    return None if value is None else value.lower() == "true"


@dataclass
class _Region:
    """One region's inputs, the records being built, and the cross-references the steps hand on."""

    data: Any
    selected: Mapping[str, list[Reason]]
    idle_selected: Mapping[str, list[Reason]]
    rec: Records = field(default_factory=Records)
    inst_by_id: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    eni_owner: dict[str, str] = field(default_factory=dict)
    eips_of: dict[str, list[str]] = field(default_factory=dict)  # instance id → allocation ids
    eip_public: set[str] = field(default_factory=set)
    tgs_of: dict[str, list[str]] = field(default_factory=dict)  # instance id → target group ARNs
    relevant_tgs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    asg_of: dict[str, str] = field(default_factory=dict)  # instance id → Auto Scaling group

    @property
    def region(self) -> str:
        return str(self.data.region)


_Relate = Callable[[_Region], None]
# The relations, in the order they run: each may read what an earlier one recorded; instances go
# last because they carry the ids of everything related to them.
RELATIONS: list[tuple[str, _Relate]] = []


def _relation(kind: str) -> Callable[[_Relate], _Relate]:
    """Register the decorated function as the step that relates ``kind`` (run in registration order)."""
    def register(fn: _Relate) -> _Relate:
        RELATIONS.append((kind, fn))
        return fn
    return register


def relate_region(data: Any, selected: Mapping[str, list[Reason]],
                  idle_selected: Mapping[str, list[Reason]]) -> Records:
    """One region's records: selected instances and everything attached to them, and the edges."""
    ctx = _Region(data, selected, idle_selected)
    ctx.inst_by_id = {i["InstanceId"]: i for i in data.instances if i["InstanceId"] in selected}
    ctx.eni_owner = {eni["NetworkInterfaceId"]: iid for iid, inst in ctx.inst_by_id.items()
                     for eni in inst.get("NetworkInterfaces", [])}
    for _kind, relate in RELATIONS:
        relate(ctx)
    return ctx.rec


@_relation("elastic_ips")
def _relate_elastic_ips(ctx: _Region) -> None:
    """Elastic IPs: associated with a selected instance (directly or via one of its ENIs), or idle+tagged."""
    for addr in ctx.data.addresses:
        alloc = addr.get("AllocationId") or addr["PublicIp"]
        owner = addr.get("InstanceId") if addr.get("InstanceId") in ctx.inst_by_id else ctx.eni_owner.get(
            addr.get("NetworkInterfaceId", ""))
        if owner is None and alloc not in ctx.idle_selected:
            continue
        ctx.rec.elastic_ips.append(_eip_record(ctx, addr, alloc, owner))
        ctx.eip_public.add(addr["PublicIp"])
        if owner:
            ctx.eips_of.setdefault(owner, []).append(alloc)
            eni = addr.get("NetworkInterfaceId")
            if eni:
                ctx.rec.edges.append(edge(f"eip:{alloc}", f"eni:{eni}", "associated-with"))
            else:
                ctx.rec.edges.append(edge(f"eip:{alloc}", f"instance:{owner}", "associated-with"))
            ctx.rec.egress_ips.append({"public_ip": addr["PublicIp"], "region": ctx.region, "kind": "elastic-ip",
                                       "allocation_id": alloc, "instance_id": owner, "stable": True,
                                       "why": "Elastic IP of a proxy instance: its egress address"})
        else:
            ctx.rec.egress_ips.append({"public_ip": addr["PublicIp"], "region": ctx.region,
                                       "kind": "idle-elastic-ip", "allocation_id": alloc, "instance_id": None,
                                       "stable": True,
                                       "why": "idle Elastic IP tagged like the proxies: may still be allowlisted"})


def _eip_record(ctx: _Region, addr: Mapping[str, Any], alloc: str, owner: str | None) -> dict[str, Any]:
    return {
        "allocation_id": alloc, "public_ip": addr["PublicIp"], "region": ctx.region,
        "state": "attached" if owner else "idle",
        "association_id": addr.get("AssociationId"), "instance_id": owner,
        "network_interface_id": addr.get("NetworkInterfaceId") or None,
        "private_ip": addr.get("PrivateIpAddress") or None,
        "domain": addr.get("Domain"), "tags": tags_of(addr),
        "selected_because": [r.to_record() for r in ctx.idle_selected.get(alloc, [])] or
                            [{"rule": "attached", "detail": f"associated with proxy instance {owner}"}],
    }


@_relation("target_groups")
def _relate_target_groups(ctx: _Region) -> None:
    """Target groups holding a selected instance."""
    for tg in ctx.data.target_groups:
        arn = tg["TargetGroupArn"]
        health = ctx.data.target_health.get(arn, [])
        held = [d for d in health if d.get("Target", {}).get("Id") in ctx.inst_by_id]
        if not held:
            continue
        ctx.relevant_tgs[arn] = tg
        ctx.rec.target_groups.append(_tg_record(ctx, tg, health))
        for d in held:
            iid = d["Target"]["Id"]
            ctx.tgs_of.setdefault(iid, []).append(arn)
            ctx.rec.edges.append(edge(f"instance:{iid}", f"tg:{arn}", "target-of"))


def _tg_record(ctx: _Region, tg: Mapping[str, Any], health: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    arn = tg["TargetGroupArn"]
    attrs = ctx.data.target_group_attributes.get(arn, {})
    delay = attrs.get("deregistration_delay.timeout_seconds")
    return {
        "arn": arn, "name": tg.get("TargetGroupName"), "region": ctx.region, "protocol": tg.get("Protocol"),
        "port": tg.get("Port"), "target_type": tg.get("TargetType"), "vpc_id": tg.get("VpcId"),
        "load_balancers": list(tg.get("LoadBalancerArns", [])),
        "targets": [{"id": d["Target"]["Id"], "port": d["Target"].get("Port"),
                     "health": d.get("TargetHealth", {}).get("State"),
                     "reason": d.get("TargetHealth", {}).get("Reason")} for d in health],
        "deregistration_delay_seconds": int(delay) if delay and delay.isdigit() else None,
        "preserve_client_ip": _bool_attr(attrs, "preserve_client_ip.enabled"),
        "proxy_protocol_v2": _bool_attr(attrs, "proxy_protocol_v2.enabled"),
        "attributes": dict(attrs),
    }


@_relation("load_balancers")
def _relate_load_balancers(ctx: _Region) -> None:
    """Load balancers in front of those target groups, and their listeners forwarding to them."""
    lb_arns = {lb for tg in ctx.relevant_tgs.values() for lb in tg.get("LoadBalancerArns", [])}
    for lb in ctx.data.load_balancers:
        arn = lb["LoadBalancerArn"]
        if arn not in lb_arns:
            continue
        listener_arns = _relate_listeners(ctx, arn)
        ctx.rec.load_balancers.append(_lb_record(ctx, lb, listener_arns))


def _relate_listeners(ctx: _Region, lb_arn: str) -> list[str]:
    listener_arns: list[str] = []
    for lst in ctx.data.listeners.get(lb_arn, []):
        forwards = _forward_targets(lst)
        hits = [t for t in forwards if t in ctx.relevant_tgs]
        if not hits:
            continue
        listener_arns.append(lst["ListenerArn"])
        ctx.rec.listeners.append({"arn": lst["ListenerArn"], "region": ctx.region, "load_balancer_arn": lb_arn,
                                  "protocol": lst.get("Protocol"), "port": lst.get("Port"),
                                  "target_groups": forwards})
        ctx.rec.edges.append(edge(f"listener:{lst['ListenerArn']}", f"lb:{lb_arn}", "listener-of"))
        for t in hits:
            ctx.rec.edges.append(edge(f"tg:{t}", f"listener:{lst['ListenerArn']}", "forwarded-by"))
    return listener_arns


def _lb_record(ctx: _Region, lb: Mapping[str, Any], listener_arns: list[str]) -> dict[str, Any]:
    arn = lb["LoadBalancerArn"]
    attrs = ctx.data.load_balancer_attributes.get(arn, {})
    return {
        "arn": arn, "name": lb.get("LoadBalancerName"), "region": ctx.region, "type": lb.get("Type"),
        "scheme": lb.get("Scheme"), "dns_name": lb.get("DNSName"), "vpc_id": lb.get("VpcId"),
        "state": lb.get("State", {}).get("Code"),
        "availability_zones": [{"zone": z.get("ZoneName"), "subnet_id": z.get("SubnetId"),
                                "addresses": [a.get("IpAddress") or a.get("PrivateIPv4Address")
                                              for a in z.get("LoadBalancerAddresses", [])]}
                               for z in lb.get("AvailabilityZones", [])],
        "security_groups": list(lb.get("SecurityGroups", [])),
        "listeners": listener_arns,
        "target_groups": sorted(t for t, tg in ctx.relevant_tgs.items() if arn in tg.get("LoadBalancerArns", [])),
        "attributes": dict(attrs),
    }


@_relation("security_groups")
def _relate_security_groups(ctx: _Region) -> None:
    """Security groups of the selected instances (and of the load balancers, NLBs may have them)."""
    sg_users: dict[str, list[str]] = {}
    for iid, inst in ctx.inst_by_id.items():
        for g in inst.get("SecurityGroups", []):
            sg_users.setdefault(g["GroupId"], []).append(f"instance:{iid}")
    for lb in ctx.rec.load_balancers:
        for g in lb["security_groups"]:
            sg_users.setdefault(g, []).append(f"lb:{lb['arn']}")
    for sg in ctx.data.security_groups:
        users = sg_users.get(sg["GroupId"])
        if not users:
            continue
        ctx.rec.security_groups.append({
            "id": sg["GroupId"], "name": sg.get("GroupName"), "region": ctx.region, "vpc_id": sg.get("VpcId"),
            "description": sg.get("Description"), "ingress": _perm_records(sg.get("IpPermissions", [])),
            "egress": _perm_records(sg.get("IpPermissionsEgress", [])), "attached_to": sorted(users),
        })
        for user in users:
            ctx.rec.edges.append(edge(f"sg:{sg['GroupId']}", user, "protects"))


@_relation("auto_scaling_groups")
def _relate_auto_scaling_groups(ctx: _Region) -> None:
    """Auto Scaling groups holding a selected instance."""
    for asg in ctx.data.auto_scaling_groups:
        members = [i["InstanceId"] for i in asg.get("Instances", [])]
        if not any(m in ctx.inst_by_id for m in members):
            continue
        name = asg["AutoScalingGroupName"]
        ctx.rec.auto_scaling_groups.append({
            "name": name, "region": ctx.region, "min_size": asg.get("MinSize"), "max_size": asg.get("MaxSize"),
            "desired_capacity": asg.get("DesiredCapacity"), "instances": members,
            "target_groups": list(asg.get("TargetGroupARNs", [])),
        })
        for m in members:
            if m in ctx.inst_by_id:
                ctx.asg_of[m] = name
                ctx.rec.edges.append(edge(f"instance:{m}", f"asg:{name}", "member-of"))


@_relation("nat_gateways")
def _relate_nat_gateways(ctx: _Region) -> None:
    """Every NAT gateway of the region (the egress the cluster will use)."""
    ctx.rec.nat_gateways = [
        {"id": g["NatGatewayId"], "region": ctx.region, "vpc_id": g.get("VpcId"),
         "subnet_id": g.get("SubnetId"), "state": g.get("State"),
         "connectivity": g.get("ConnectivityType", "public"),
         "public_ips": [a.get("PublicIp") for a in g.get("NatGatewayAddresses", []) if a.get("PublicIp")]}
        for g in ctx.data.nat_gateways]


@_relation("instances")
def _relate_instances(ctx: _Region) -> None:
    """Instances last: they carry the ids of everything related to them."""
    addresses_known = not any(getattr(f, "action", "") == "ec2:DescribeAddresses" for f in ctx.data.failures)
    for iid, inst in sorted(ctx.inst_by_id.items()):
        enis = []
        for eni in inst.get("NetworkInterfaces", []):
            assoc = eni.get("Association", {})
            enis.append({"id": eni["NetworkInterfaceId"], "private_ip": eni.get("PrivateIpAddress"),
                         "public_ip": assoc.get("PublicIp"), "subnet_id": eni.get("SubnetId"),
                         "security_groups": [g["GroupId"] for g in eni.get("Groups", [])]})
            ctx.rec.edges.append(edge(f"eni:{eni['NetworkInterfaceId']}", f"instance:{iid}", "attached-to"))
        public_ip = inst.get("PublicIpAddress")
        ip_kind = _public_ip_kind(ctx, iid, public_ip, addresses_known)
        tags = tags_of(inst)
        ctx.rec.instances.append({
            "id": iid, "region": ctx.region, "name": tags.get("Name"), "type": inst.get("InstanceType"),
            "availability_zone": inst.get("Placement", {}).get("AvailabilityZone"),
            "state": inst.get("State", {}).get("Name"), "private_ip": inst.get("PrivateIpAddress"),
            "public_ip": public_ip, "public_ip_kind": ip_kind,
            "launch_time": _iso(inst.get("LaunchTime")), "image_id": inst.get("ImageId"),
            "vpc_id": inst.get("VpcId"), "subnet_id": inst.get("SubnetId"), "tags": tags,
            "selected_because": [r.to_record() for r in ctx.selected[iid]],
            "network_interfaces": enis,
            "security_groups": [g["GroupId"] for g in inst.get("SecurityGroups", [])],
            "elastic_ips": ctx.eips_of.get(iid, []), "target_groups": ctx.tgs_of.get(iid, []),
            "auto_scaling_group": ctx.asg_of.get(iid),
        })


def _public_ip_kind(ctx: _Region, iid: str, public_ip: str | None, addresses_known: bool) -> str | None:
    """elastic-ip | auto-assigned | unknown (DescribeAddresses refused) | None; records non-EIP egress."""
    if public_ip in ctx.eip_public:
        return "elastic-ip"
    if public_ip and not addresses_known:
        # DescribeAddresses was refused: it may be an Elastic IP or an auto-assigned address.
        ctx.rec.egress_ips.append({"public_ip": public_ip, "region": ctx.region, "kind": "unknown",
                                   "allocation_id": None, "instance_id": iid, "stable": None,
                                   "why": "public IPv4 of a proxy instance (Elastic IP status unknown: "
                                          "DescribeAddresses refused)"})
        return "unknown"
    if public_ip:
        ctx.rec.egress_ips.append({"public_ip": public_ip, "region": ctx.region, "kind": "auto-assigned",
                                   "allocation_id": None, "instance_id": iid, "stable": False,
                                   "why": "auto-assigned public IPv4 of a proxy instance: changes at stop/start"})
        return "auto-assigned"
    return None


def _forward_targets(listener: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for action in listener.get("DefaultActions", []):
        if action.get("TargetGroupArn"):
            out.append(action["TargetGroupArn"])
        for t in action.get("ForwardConfig", {}).get("TargetGroups", []):
            if t.get("TargetGroupArn") and t["TargetGroupArn"] not in out:
                out.append(t["TargetGroupArn"])
    return out


def _norm_dns(name: str) -> str:
    name = name.lower().rstrip(".")
    # Route 53 aliases to ELB are often stored as dualstack.<lb dns name> (AWS docs, alias targets).
    return name.removeprefix("dualstack.")


def relate_dns(zones: Iterable[Mapping[str, Any]], records: Mapping[str, Sequence[Mapping[str, Any]]],
               rec: Records) -> None:
    """Add the Route 53 records that alias/CNAME a listed load balancer or A-point at a proxy address."""
    lb_by_dns = {_norm_dns(lb["dns_name"]): lb["arn"] for lb in rec.load_balancers if lb.get("dns_name")}
    inst_by_ip: dict[str, str] = {}
    for inst in rec.instances:
        for ip in (inst.get("private_ip"), inst.get("public_ip")):
            if ip:
                inst_by_ip[ip] = inst["id"]
    eip_by_ip = {e["public_ip"]: e["allocation_id"] for e in rec.elastic_ips}
    for zone in zones:
        zid = zone["Id"].split("/")[-1]
        private = bool(zone.get("Config", {}).get("PrivateZone"))
        for rs in records.get(zone["Id"], []):
            rtype = rs.get("Type")
            alias = rs.get("AliasTarget")
            values = [alias["DNSName"]] if alias else [r["Value"] for r in rs.get("ResourceRecords", [])]
            for value in values:
                node = None
                if alias or rtype == "CNAME":
                    lb = lb_by_dns.get(_norm_dns(value))
                    node = f"lb:{lb}" if lb else None
                elif rtype in ("A", "AAAA"):
                    if value in eip_by_ip:
                        node = f"eip:{eip_by_ip[value]}"
                    elif value in inst_by_ip:
                        node = f"instance:{inst_by_ip[value]}"
                if node is None:
                    continue
                name = rs["Name"].rstrip(".")
                rid = f"dns:{zid}/{name}/{rtype}"
                rec.dns_records.append({"zone_id": zid, "zone_name": zone.get("Name", "").rstrip("."),
                                        "private_zone": private, "name": name, "type": rtype,
                                        "alias": bool(alias), "value": value.rstrip("."),
                                        "points_to": node.split(":", 1)[1], "points_to_kind": node.split(":", 1)[0]})
                rec.edges.append(edge(rid, node, "alias-of" if alias else "resolves-to"))


def nodes_of(rec: Records) -> list[dict[str, str]]:
    """Every node the edges mention, with its kind (for consumers drawing the graph)."""
    seen: dict[str, str] = {}
    for e in rec.edges:
        for n in (e["from"], e["to"]):
            seen.setdefault(n, n.split(":", 1)[0])
    return [{"id": n, "kind": k} for n, k in sorted(seen.items())]
