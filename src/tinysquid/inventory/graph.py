"""The relationships: EIP ↔ ENI ↔ instance ↔ target group ↔ listener ↔ NLB ↔ Route 53, SG ↔ instance.

``relate_region`` turns one region's raw descriptions plus the selection into the document's record
lists (only what touches a selected instance or a selected idle address) and graph edges;
``relate_dns`` matches Route 53 records to those load balancers (alias or CNAME to their DNS name)
and to the instances' addresses (A records). Pure functions; node ids are ``kind:id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


def relate_region(data: Any, selected: Mapping[str, list[Reason]],
                  idle_selected: Mapping[str, list[Reason]]) -> Records:
    """One region's records: selected instances and everything attached to them, and the edges."""
    region = data.region
    rec = Records()
    addresses_known = not any(getattr(f, "action", "") == "ec2:DescribeAddresses" for f in data.failures)
    inst_by_id = {i["InstanceId"]: i for i in data.instances if i["InstanceId"] in selected}
    eni_owner = {eni["NetworkInterfaceId"]: iid for iid, inst in inst_by_id.items()
                 for eni in inst.get("NetworkInterfaces", [])}

    # Elastic IPs: associated with a selected instance (directly or via one of its ENIs), or idle+tagged.
    eips_of: dict[str, list[str]] = {}
    eip_public: set[str] = set()
    for addr in data.addresses:
        alloc = addr.get("AllocationId") or addr["PublicIp"]
        owner = addr.get("InstanceId") if addr.get("InstanceId") in inst_by_id else eni_owner.get(
            addr.get("NetworkInterfaceId", ""))
        if owner is None and alloc not in idle_selected:
            continue
        record = {
            "allocation_id": alloc, "public_ip": addr["PublicIp"], "region": region,
            "state": "attached" if owner else "idle",
            "association_id": addr.get("AssociationId"), "instance_id": owner,
            "network_interface_id": addr.get("NetworkInterfaceId") or None,
            "private_ip": addr.get("PrivateIpAddress") or None,
            "domain": addr.get("Domain"), "tags": tags_of(addr),
            "selected_because": [r.to_record() for r in idle_selected.get(alloc, [])] or
                                [{"rule": "attached", "detail": f"associated with proxy instance {owner}"}],
        }
        rec.elastic_ips.append(record)
        eip_public.add(addr["PublicIp"])
        if owner:
            eips_of.setdefault(owner, []).append(alloc)
            eni = addr.get("NetworkInterfaceId")
            if eni:
                rec.edges.append(edge(f"eip:{alloc}", f"eni:{eni}", "associated-with"))
            else:
                rec.edges.append(edge(f"eip:{alloc}", f"instance:{owner}", "associated-with"))
            rec.egress_ips.append({"public_ip": addr["PublicIp"], "region": region, "kind": "elastic-ip",
                                   "allocation_id": alloc, "instance_id": owner, "stable": True,
                                   "why": "Elastic IP of a proxy instance: its egress address"})
        else:
            rec.egress_ips.append({"public_ip": addr["PublicIp"], "region": region, "kind": "idle-elastic-ip",
                                   "allocation_id": alloc, "instance_id": None, "stable": True,
                                   "why": "idle Elastic IP tagged like the proxies: may still be allowlisted"})

    # Target groups holding a selected instance.
    tgs_of: dict[str, list[str]] = {}
    relevant_tgs: dict[str, dict[str, Any]] = {}
    for tg in data.target_groups:
        arn = tg["TargetGroupArn"]
        health = data.target_health.get(arn, [])
        held = [d for d in health if d.get("Target", {}).get("Id") in inst_by_id]
        if not held:
            continue
        relevant_tgs[arn] = tg
        attrs = data.target_group_attributes.get(arn, {})
        delay = attrs.get("deregistration_delay.timeout_seconds")
        rec.target_groups.append({
            "arn": arn, "name": tg.get("TargetGroupName"), "region": region, "protocol": tg.get("Protocol"),
            "port": tg.get("Port"), "target_type": tg.get("TargetType"), "vpc_id": tg.get("VpcId"),
            "load_balancers": list(tg.get("LoadBalancerArns", [])),
            "targets": [{"id": d["Target"]["Id"], "port": d["Target"].get("Port"),
                         "health": d.get("TargetHealth", {}).get("State"),
                         "reason": d.get("TargetHealth", {}).get("Reason")} for d in health],
            "deregistration_delay_seconds": int(delay) if delay and delay.isdigit() else None,
            "preserve_client_ip": _bool_attr(attrs, "preserve_client_ip.enabled"),
            "proxy_protocol_v2": _bool_attr(attrs, "proxy_protocol_v2.enabled"),
            "attributes": dict(attrs),
        })
        for d in held:
            iid = d["Target"]["Id"]
            tgs_of.setdefault(iid, []).append(arn)
            rec.edges.append(edge(f"instance:{iid}", f"tg:{arn}", "target-of"))

    # Load balancers in front of those target groups, and their listeners forwarding to them.
    lb_arns = {lb for tg in relevant_tgs.values() for lb in tg.get("LoadBalancerArns", [])}
    for lb in data.load_balancers:
        arn = lb["LoadBalancerArn"]
        if arn not in lb_arns:
            continue
        listener_arns: list[str] = []
        for lst in data.listeners.get(arn, []):
            forwards = _forward_targets(lst)
            hits = [t for t in forwards if t in relevant_tgs]
            if not hits:
                continue
            listener_arns.append(lst["ListenerArn"])
            rec.listeners.append({"arn": lst["ListenerArn"], "region": region, "load_balancer_arn": arn,
                                  "protocol": lst.get("Protocol"), "port": lst.get("Port"),
                                  "target_groups": forwards})
            rec.edges.append(edge(f"listener:{lst['ListenerArn']}", f"lb:{arn}", "listener-of"))
            for t in hits:
                rec.edges.append(edge(f"tg:{t}", f"listener:{lst['ListenerArn']}", "forwarded-by"))
        attrs = data.load_balancer_attributes.get(arn, {})
        rec.load_balancers.append({
            "arn": arn, "name": lb.get("LoadBalancerName"), "region": region, "type": lb.get("Type"),
            "scheme": lb.get("Scheme"), "dns_name": lb.get("DNSName"), "vpc_id": lb.get("VpcId"),
            "state": lb.get("State", {}).get("Code"),
            "availability_zones": [{"zone": z.get("ZoneName"), "subnet_id": z.get("SubnetId"),
                                    "addresses": [a.get("IpAddress") or a.get("PrivateIPv4Address")
                                                  for a in z.get("LoadBalancerAddresses", [])]}
                                   for z in lb.get("AvailabilityZones", [])],
            "security_groups": list(lb.get("SecurityGroups", [])),
            "listeners": listener_arns,
            "target_groups": sorted(t for t, tg in relevant_tgs.items() if arn in tg.get("LoadBalancerArns", [])),
            "attributes": dict(attrs),
        })

    # Security groups of the selected instances (and of the load balancers, NLBs may have them).
    sg_users: dict[str, list[str]] = {}
    for iid, inst in inst_by_id.items():
        for g in inst.get("SecurityGroups", []):
            sg_users.setdefault(g["GroupId"], []).append(f"instance:{iid}")
    for lb in rec.load_balancers:
        for g in lb["security_groups"]:
            sg_users.setdefault(g, []).append(f"lb:{lb['arn']}")
    for sg in data.security_groups:
        users = sg_users.get(sg["GroupId"])
        if not users:
            continue
        rec.security_groups.append({
            "id": sg["GroupId"], "name": sg.get("GroupName"), "region": region, "vpc_id": sg.get("VpcId"),
            "description": sg.get("Description"), "ingress": _perm_records(sg.get("IpPermissions", [])),
            "egress": _perm_records(sg.get("IpPermissionsEgress", [])), "attached_to": sorted(users),
        })
        for user in users:
            rec.edges.append(edge(f"sg:{sg['GroupId']}", user, "protects"))

    # Auto Scaling groups holding a selected instance.
    asg_of: dict[str, str] = {}
    for asg in data.auto_scaling_groups:
        members = [i["InstanceId"] for i in asg.get("Instances", [])]
        if not any(m in inst_by_id for m in members):
            continue
        name = asg["AutoScalingGroupName"]
        rec.auto_scaling_groups.append({
            "name": name, "region": region, "min_size": asg.get("MinSize"), "max_size": asg.get("MaxSize"),
            "desired_capacity": asg.get("DesiredCapacity"), "instances": members,
            "target_groups": list(asg.get("TargetGroupARNs", [])),
        })
        for m in members:
            if m in inst_by_id:
                asg_of[m] = name
                rec.edges.append(edge(f"instance:{m}", f"asg:{name}", "member-of"))

    rec.nat_gateways = [{"id": g["NatGatewayId"], "region": region, "vpc_id": g.get("VpcId"),
                         "subnet_id": g.get("SubnetId"), "state": g.get("State"),
                         "connectivity": g.get("ConnectivityType", "public"),
                         "public_ips": [a.get("PublicIp") for a in g.get("NatGatewayAddresses", []) if a.get("PublicIp")]}
                        for g in data.nat_gateways]

    # Instances last: they carry the ids of everything related to them.
    for iid, inst in sorted(inst_by_id.items()):
        enis = []
        for eni in inst.get("NetworkInterfaces", []):
            assoc = eni.get("Association", {})
            enis.append({"id": eni["NetworkInterfaceId"], "private_ip": eni.get("PrivateIpAddress"),
                         "public_ip": assoc.get("PublicIp"), "subnet_id": eni.get("SubnetId"),
                         "security_groups": [g["GroupId"] for g in eni.get("Groups", [])]})
            rec.edges.append(edge(f"eni:{eni['NetworkInterfaceId']}", f"instance:{iid}", "attached-to"))
        public_ip = inst.get("PublicIpAddress")
        if public_ip in eip_public:
            ip_kind: str | None = "elastic-ip"
        elif public_ip and not addresses_known:
            # DescribeAddresses was refused: it may be an Elastic IP or an auto-assigned address.
            ip_kind = "unknown"
            rec.egress_ips.append({"public_ip": public_ip, "region": region, "kind": "unknown",
                                   "allocation_id": None, "instance_id": iid, "stable": None,
                                   "why": "public IPv4 of a proxy instance (Elastic IP status unknown: "
                                          "DescribeAddresses refused)"})
        elif public_ip:
            ip_kind = "auto-assigned"
            rec.egress_ips.append({"public_ip": public_ip, "region": region, "kind": "auto-assigned",
                                   "allocation_id": None, "instance_id": iid, "stable": False,
                                   "why": "auto-assigned public IPv4 of a proxy instance: changes at stop/start"})
        else:
            ip_kind = None
        tags = tags_of(inst)
        rec.instances.append({
            "id": iid, "region": region, "name": tags.get("Name"), "type": inst.get("InstanceType"),
            "availability_zone": inst.get("Placement", {}).get("AvailabilityZone"),
            "state": inst.get("State", {}).get("Name"), "private_ip": inst.get("PrivateIpAddress"),
            "public_ip": public_ip, "public_ip_kind": ip_kind,
            "launch_time": _iso(inst.get("LaunchTime")), "image_id": inst.get("ImageId"),
            "vpc_id": inst.get("VpcId"), "subnet_id": inst.get("SubnetId"), "tags": tags,
            "selected_because": [r.to_record() for r in selected[iid]],
            "network_interfaces": enis,
            "security_groups": [g["GroupId"] for g in inst.get("SecurityGroups", [])],
            "elastic_ips": eips_of.get(iid, []), "target_groups": tgs_of.get(iid, []),
            "auto_scaling_group": asg_of.get(iid),
        })
    return rec


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
