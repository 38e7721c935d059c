"""Monthly cost of the legacy estate and of the NAT gateway target side, from the price table (data).

Every figure carries its basis: quantity, hours, unit price, unit, the region whose prices were
used, and the table's source and date. The model (anchors §3.7):
- EC2: on-demand hourly price × 730 h for running instances (stopped: $0, EBS is not priced);
- public IPv4: $0.005 per address-hour for EVERY public address — Elastic IPs attached or idle and
  auto-assigned ones — since 2024-02-01 (infracost still prices attached EIPs at $0);
- NLB: hourly price × 730 h + NLCU-hours; tinysquid prices the processed-bytes dimension only
  (1 NLCU = 1 GB/h, so NLCU-hours = GB processed per month, split evenly over the listed NLBs);
  an internet-facing NLB also holds one public IPv4 per AZ;
- target side: one NAT gateway per AZ the proxies run in (hourly + one EIP each) plus $/GB processed;
  when a NAT gateway already exists in those VPCs only the per-GB term is incremental.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tinysquid.diagnostics.model import Diagnostic, Span, make

SOURCE = "inventory.cost"
_REGION_KEYS = ("public_ipv4_hour", "nlb_hour", "nlcu_hour", "nat_gateway_hour", "nat_gateway_gb", "ec2_hour")


@dataclass(frozen=True)
class Prices:
    """The price table: per-region unit prices plus where they come from."""

    table: Mapping[str, Any]
    origin: str = "tinysquid/inventory/prices.yaml"

    @property
    def hours(self) -> float:
        """Hours in a billing month (AWS uses 730)."""
        return float(self.table.get("hours_per_month", 730))

    @property
    def default_region(self) -> str:
        """The region whose prices stand in for regions the table lacks."""
        return str(self.table.get("default_region", "us-east-1"))

    def region(self, region: str) -> tuple[str, Mapping[str, Any]]:
        """(region actually used, its prices): the region itself or the default one."""
        regions = self.table["regions"]
        if region in regions:
            return region, regions[region]
        return self.default_region, regions[self.default_region]


def load_prices(path: Path | None = None) -> Prices:
    """The packaged table, or the packaged table overlaid with a ``--prices`` file (same shape)."""
    import yaml

    from tinysquid.diagnostics import InputError

    text = resources.files("tinysquid.inventory").joinpath("prices.yaml").read_text(encoding="utf-8")
    table: dict[str, Any] = yaml.safe_load(text)
    if path is None:
        return Prices(table)
    try:
        override = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", 0) + 1
        raise InputError(make("TS609", f"cannot read prices file: {exc}", source=SOURCE,
                              span=Span(str(path), line))) from None
    if not isinstance(override, dict) or not isinstance(override.get("regions", {}), dict):
        raise InputError(make("TS609", "prices file must be a mapping with a 'regions' mapping",
                              source=SOURCE, span=Span(str(path), 1)))
    merged = {**table, **{k: v for k, v in override.items() if k != "regions"}}
    regions = {name: dict(r) for name, r in table["regions"].items()}
    for name, r in override.get("regions", {}).items():
        if not isinstance(r, dict):
            raise InputError(make("TS609", f"regions.{name} must be a mapping", source=SOURCE,
                                  span=Span(str(path), 1)))
        base = regions.setdefault(name, {})
        for key, value in r.items():
            if key == "ec2_hour" and isinstance(value, dict):
                base["ec2_hour"] = {**base.get("ec2_hour", {}), **value}
            else:
                base[key] = value
    for name, r in regions.items():
        missing = [k for k in _REGION_KEYS if k not in r]
        if missing:
            raise InputError(make("TS609", f"regions.{name} lacks {', '.join(missing)}", source=SOURCE,
                                  span=Span(str(path), 1)))
    merged["regions"] = regions
    return Prices(merged, origin=str(path))


@dataclass
class CostResult:
    """The ``costs`` section of the document and the findings pricing raised."""

    costs: dict[str, Any]
    findings: list[Diagnostic] = field(default_factory=list)


class _Pricer:
    def __init__(self, prices: Prices) -> None:
        self.prices = prices
        self.findings: list[Diagnostic] = []
        self._fallback_noted: set[str] = set()
        self.used: dict[str, dict[str, Any]] = {}

    def region(self, region: str) -> tuple[str, Mapping[str, Any]]:
        used, table = self.prices.region(region)
        if used != region and region not in self._fallback_noted:
            self._fallback_noted.add(region)
            self.findings.append(make("TS604", f"no prices for {region}: used {used} prices", source=SOURCE,
                                      subject=f"region:{region}"))
        self.used[used] = {"source": table.get("source"), "as_of": table.get("as_of")}
        return used, table

    def item(self, resource: str, region: str, what: str, *, quantity: float, hours: float | None,
             unit_price: float, unit: str, note: str | None = None) -> dict[str, Any]:
        used, table = self.region(region)
        monthly = quantity * (hours if hours is not None else 1.0) * unit_price
        basis: dict[str, Any] = {"quantity": quantity, "hours": hours, "unit_price": unit_price, "unit": unit,
                                 "price_region": used, "source": table.get("source"), "as_of": table.get("as_of"),
                                 "prices_file": self.prices.origin}
        if note:
            basis["note"] = note
        return {"resource": resource, "region": region, "item": what, "monthly_usd": round(monthly, 4),
                "basis": basis, "_exact": monthly}


def _total(items: list[dict[str, Any]]) -> float:
    return round(float(sum(i.pop("_exact") for i in items)), 2)


def price_estate(doc: Mapping[str, Any], prices: Prices, *, monthly_gb: float) -> CostResult:
    """Price the document's instances, addresses and load balancers, and the NAT gateway alternative."""
    p = _Pricer(prices)
    hours = prices.hours
    legacy: list[dict[str, Any]] = []

    for inst in doc["instances"]:
        _, table = p.region(inst["region"])
        itype = inst.get("type") or "?"
        hourly = table["ec2_hour"].get(itype)
        running = inst.get("state") in ("running", "pending")
        if hourly is None:
            p.findings.append(make("TS603", f"no on-demand price for {itype}: {inst['id']} counted at $0",
                                   source=SOURCE, subject=f"instance:{inst['id']}"))
        legacy.append(p.item(f"instance:{inst['id']}", inst["region"], f"EC2 on-demand {itype}",
                             quantity=1, hours=hours if running else 0.0, unit_price=float(hourly or 0.0),
                             unit="USD per instance-hour",
                             note=None if running else f"state {inst.get('state')}: no compute charge"))
        if inst.get("public_ip_kind") in ("auto-assigned", "unknown"):
            legacy.append(p.item(f"instance:{inst['id']}", inst["region"], f"public IPv4 ({inst['public_ip_kind']})",
                                 quantity=1, hours=hours, unit_price=float(table["public_ipv4_hour"]),
                                 unit="USD per address-hour"))

    for eip in doc["elastic_ips"]:
        _, table = p.region(eip["region"])
        legacy.append(p.item(f"eip:{eip['allocation_id']}", eip["region"], f"public IPv4 (Elastic IP, {eip['state']})",
                             quantity=1, hours=hours, unit_price=float(table["public_ipv4_hour"]),
                             unit="USD per address-hour",
                             note="charged whether attached or idle since 2024-02-01"))

    nlbs = [lb for lb in doc["load_balancers"] if lb.get("type") == "network"]
    share = monthly_gb / len(nlbs) if nlbs else 0.0
    for lb in doc["load_balancers"]:
        _, table = p.region(lb["region"])
        if lb.get("type") != "network":
            continue  # only NLBs are modelled; an ALB in front of the proxy would be unusual
        legacy.append(p.item(f"lb:{lb['arn']}", lb["region"], f"NLB {lb.get('name')}", quantity=1, hours=hours,
                             unit_price=float(table["nlb_hour"]), unit="USD per NLB-hour"))
        legacy.append(p.item(f"lb:{lb['arn']}", lb["region"], f"NLB {lb.get('name')} NLCU (bytes)",
                             quantity=share, hours=None, unit_price=float(table["nlcu_hour"]),
                             unit="USD per NLCU-hour; 1 NLCU-hour per GB processed",
                             note=f"{share:g} GB/month of {monthly_gb:g} split over {len(nlbs)} NLB(s)"))
        if lb.get("scheme") == "internet-facing":
            lb_azs = len(lb.get("availability_zones", [])) or 1
            legacy.append(p.item(f"lb:{lb['arn']}", lb["region"], f"NLB {lb.get('name')} public IPv4 per AZ",
                                 quantity=lb_azs, hours=hours, unit_price=float(table["public_ipv4_hour"]),
                                 unit="USD per address-hour"))

    # Target side: NAT gateways in the AZs the proxies run in, per region.
    target: list[dict[str, Any]] = []
    azs_by_region: dict[str, set[str]] = {}
    vpcs_by_region: dict[str, set[str]] = {}
    for inst in doc["instances"]:
        if inst.get("availability_zone"):
            azs_by_region.setdefault(inst["region"], set()).add(inst["availability_zone"])
        if inst.get("vpc_id"):
            vpcs_by_region.setdefault(inst["region"], set()).add(inst["vpc_id"])
    total_az = sum(len(v) for v in azs_by_region.values()) or 1
    existing_nat = any(g.get("vpc_id") in vpcs_by_region.get(g["region"], set())
                       for g in doc.get("nat_gateways", []))
    incremental = 0.0
    for region, azs in sorted(azs_by_region.items()):
        _, table = p.region(region)
        n = len(azs)
        gb = monthly_gb * n / total_az
        target.append(p.item(f"nat:{region}", region, "NAT gateway hours (one per AZ)", quantity=n, hours=hours,
                             unit_price=float(table["nat_gateway_hour"]), unit="USD per NAT-gateway-hour",
                             note="AZs: " + ", ".join(sorted(azs))))
        target.append(p.item(f"nat:{region}", region, "NAT gateway Elastic IPs (one per AZ)", quantity=n,
                             hours=hours, unit_price=float(table["public_ipv4_hour"]), unit="USD per address-hour"))
        proc = p.item(f"nat:{region}", region, "NAT gateway data processed", quantity=gb, hours=None,
                      unit_price=float(table["nat_gateway_gb"]), unit="USD per GB processed",
                      note=f"{gb:g} GB/month of --monthly-gb {monthly_gb:g}")
        target.append(proc)
        incremental += proc["_exact"]

    legacy_total = _total(legacy)
    target_total = _total(target)
    if monthly_gb == 0:
        p.findings.append(make("TS607", "per-GB terms priced at 0 GB/month (no --monthly-gb)", source=SOURCE,
                               subject="costs"))
    costs = {
        "currency": str(prices.table.get("currency", "USD")),
        "hours_per_month": hours,
        "monthly_gb": monthly_gb,
        "monthly_total": legacy_total,
        "legacy": {"monthly_total": legacy_total, "items": legacy},
        "target": {
            "description": "squid on Kubernetes egressing through NAT gateways (one per AZ the proxies use)",
            "monthly_total": target_total,
            "incremental_monthly_total": round(incremental if existing_nat else target_total, 2),
            "existing_nat_gateway": existing_nat,
            "items": target,
        },
        "monthly_delta": round(target_total - legacy_total, 2),
        "price_sources": p.used,
    }
    return CostResult(costs, p.findings)
