"""Prices per region from the AWS Price List API (``pricing:GetProducts``), cached with their date.

``--prices-from`` chooses where the unit prices come from:
- ``bundled``: the packaged table (``prices.yaml``, offline, dated by hand);
- ``auto`` (default): a region's cached Price List answer if there is one (with the date it was
  fetched and the prices' own effective date), else the bundled table; no network call;
- ``api``: ask the Price List API for each listed region and instance type, write the cache, and
  fall back (cache, then bundled) with a TS617 finding for what it could not give.

The cache is one JSON file per region under ``$XDG_CACHE_HOME/tinysquid/prices`` (default
``~/.cache``). Every figure's basis names its source and date, so a cost is never undated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinysquid.diagnostics.model import Diagnostic, make
from tinysquid.inventory.collect import PRICING, ApiFailure, Caller, PermissionGap, cache_root
from tinysquid.inventory.cost import Prices

SOURCE = "inventory.pricing"
API_SOURCE = "AWS Price List API (pricing:GetProducts)"
CACHE_SCHEMA = 1
# The Price List API answers in these regions only; us-east-1 serves every region's prices.
API_REGION = "us-east-1"
MODES = ("auto", "bundled", "api")

_EC2_FILTERS = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
                "capacitystatus": "Used", "licenseModel": "No License required"}
# (table key, ServiceCode, productFamily, usagetype suffix): the non-EC2 figures cost.py multiplies.
_UNITS: tuple[tuple[str, str, str, str], ...] = (
    ("nlb_hour", "AWSELB", "Load Balancer-Network", "LoadBalancerUsage"),
    ("nlcu_hour", "AWSELB", "Load Balancer-Network", "LCUUsage"),
    ("nat_gateway_hour", "AmazonEC2", "NAT Gateway", "NatGateway-Hours"),
    ("nat_gateway_gb", "AmazonEC2", "NAT Gateway", "NatGateway-Bytes"),
    ("public_ipv4_hour", "AmazonVPC", "VPC Public IPv4 Address", "PublicIPv4:InUseAddress"),
)


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/tinysquid/prices`` (``~/.cache`` when unset or not absolute)."""
    return cache_root() / "prices"


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class Live:
    """One region's figures from the API (or its cache): the keys found and their dates."""

    region: str
    fetched_at: str
    as_of: str | None = None  # the latest effectiveDate among the prices
    values: dict[str, Any] = field(default_factory=dict)  # table keys; ec2_hour is a mapping

    def to_json(self) -> dict[str, Any]:
        """The cache file's content."""
        return {"schema": CACHE_SCHEMA, "region": self.region, "fetched_at": self.fetched_at, "as_of": self.as_of,
                "source": API_SOURCE, "prices": self.values}


def read_cache(region: str) -> Live | None:
    """The cached Price List answer for ``region``, or None (missing, unreadable or another schema)."""
    path = cache_dir() / f"{region}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("schema") != CACHE_SCHEMA or not isinstance(raw.get("prices"), dict):
        return None
    values = {k: v for k, v in raw["prices"].items() if (k == "ec2_hour" and isinstance(v, dict))
              or (isinstance(v, int | float) and not isinstance(v, bool) and v >= 0)}
    return Live(region, str(raw.get("fetched_at") or "?"), raw.get("as_of"), values)


def write_cache(live: Live) -> None:
    """Write one region's figures atomically; a cache that cannot be written is only a lost cache."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{live.region}.json.tmp{os.getpid()}"
        tmp.write_text(json.dumps(live.to_json(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, directory / f"{live.region}.json")
    except OSError:
        pass


def _on_demand(item: Any) -> tuple[dict[str, str], float | None, str | None]:
    """(product attributes, USD per unit of the first on-demand dimension, its effective date)."""
    doc = json.loads(item) if isinstance(item, str) else item
    if not isinstance(doc, dict):
        return {}, None, None
    attrs = doc.get("product", {}).get("attributes", {})
    for term in (doc.get("terms", {}).get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            usd = (dim.get("pricePerUnit") or {}).get("USD")
            try:
                price = float(str(usd))
            except (TypeError, ValueError):
                continue
            if price > 0 or "beginRange" not in dim or dim.get("beginRange") == "0":
                effective = term.get("effectiveDate")
                return attrs, price, str(effective)[:10] if effective else None
    return attrs, None, None


def _filters(region: str, **terms: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            *({"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items())]


def fetch(caller: Caller, region: str, instance_types: Iterable[str]) -> tuple[Live, list[str]]:
    """Ask the Price List API for one region's figures; returns them and the keys it could not price.

    Raises PermissionGap / ApiFailure when the API refuses or fails (the caller falls back).
    """
    live = Live(region, _now())
    dates: list[str] = []
    missing: list[str] = []

    def products(service: str, **terms: str) -> list[Any]:
        return caller.call(PRICING, "GetProducts", "PriceList", ServiceCode=service,
                           Filters=_filters(region, **terms), FormatVersion="aws_v1")

    by_family: dict[tuple[str, str], list[Any]] = {}
    for key, service, family, usage in _UNITS:
        items = by_family.setdefault((service, family), products(service, productFamily=family))
        found = None
        for item in items:
            attrs, price, date = _on_demand(item)
            if price is not None and str(attrs.get("usagetype", "")).endswith(usage):
                found = price
                dates += [date] if date else []
                break
        if found is None:
            missing.append(key)
        else:
            live.values[key] = found
    ec2: dict[str, float] = {}
    for itype in sorted(set(instance_types)):
        price = None
        for item in products("AmazonEC2", instanceType=itype, **_EC2_FILTERS):
            _attrs, price, date = _on_demand(item)
            if price is not None:
                dates += [date] if date else []
                break
        if price is None:
            missing.append(f"ec2_hour.{itype}")
        else:
            ec2[itype] = price
    live.values["ec2_hour"] = ec2
    live.as_of = max(dates) if dates else None
    return live, missing


@dataclass
class Priced:
    """The price table the costs use (bundled overlaid with live figures) and what was said about it."""

    prices: Prices
    findings: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # region → source, dates


def _overlay(prices: Prices, lives: Mapping[str, Live]) -> Prices:
    table = dict(prices.table)
    regions = {name: dict(r) for name, r in table["regions"].items()}
    for region, live in lives.items():
        # A figure the API did not give keeps the bundled one (this region's, else the default
        # region's): TS617 names each such figure, so none is priced at $0 silently.
        base = dict(regions.get(region) or regions[prices.default_region])
        for key, value in live.values.items():
            if key == "ec2_hour":
                base["ec2_hour"] = {**base.get("ec2_hour", {}), **value}
            else:
                base[key] = value
        base["source"] = API_SOURCE + f", fetched {live.fetched_at}"
        base["as_of"] = live.as_of or live.fetched_at[:10]
        regions[region] = base
    table["regions"] = regions
    return Prices(table, origin=prices.origin if not lives else f"{prices.origin} + {API_SOURCE}")


def resolve(mode: str, prices: Prices, regions: Iterable[str], instance_types: Mapping[str, set[str]],
            caller: Caller | None) -> Priced:
    """The table to price with under ``--prices-from mode`` for these regions and instance types."""
    lives: dict[str, Live] = {}
    findings: list[Diagnostic] = []
    wanted = sorted(set(regions))
    if mode in ("auto", "api"):
        for region in wanted:
            cached = read_cache(region)
            if cached is not None:
                lives[region] = cached
    if mode == "api" and caller is not None:
        for region in wanted:
            types = instance_types.get(region, set())
            try:
                live, missing = fetch(caller, region, types)
            except (PermissionGap, ApiFailure) as exc:
                findings.append(make("TS617", f"Price List API for {region}: {exc}; used "
                                     + ("cached prices of " + lives[region].fetched_at if region in lives
                                        else "the bundled table"), source=SOURCE, subject=f"region:{region}",
                                     data={"region": region}))
                continue
            old = lives.get(region)
            if old is not None:  # keep a cached instance type the API did not price this time
                live.values["ec2_hour"] = {**old.values.get("ec2_hour", {}), **live.values.get("ec2_hour", {})}
                missing = [m for m in missing if not (m.startswith("ec2_hour.")
                                                      and m.split(".", 1)[1] in live.values["ec2_hour"])]
            if missing:
                bundled = region if region in prices.table["regions"] else prices.default_region
                findings.append(make("TS617", f"Price List API gave no price in {region} for "
                                     f"{', '.join(missing)}; the bundled {bundled} figures are used for those",
                                     source=SOURCE,
                                     subject=f"region:{region}", data={"region": region, "missing": missing}))
            lives[region] = live
            write_cache(live)
    table = _overlay(prices, lives)
    sources: dict[str, dict[str, Any]] = {}
    for region in wanted:
        used, r = table.region(region)
        sources[region] = {"prices_region": used, "source": r.get("source"), "as_of": r.get("as_of"),
                           "cached": region in lives and mode == "auto"}
    described = "; ".join(f"{reg}: {s['source']}, as of {s['as_of']}"
                          + ("" if s["prices_region"] == reg else f" ({s['prices_region']} prices)")
                          for reg, s in sources.items())
    findings.append(make("TS618", f"prices ({mode}): {described}", source=SOURCE, subject="costs",
                         data={"mode": mode, "regions": sources}))
    return Priced(table, findings, sources)


__all__ = ["API_REGION", "MODES", "Live", "Priced", "cache_dir", "fetch", "read_cache", "resolve", "write_cache"]
