"""`tinysquid inventory-aws`: List the legacy EC2/NLB/target group/EIP/security group estate, read-only, with its monthly cost."""

from __future__ import annotations

import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from tinysquid.cli._common import (
    Debug,
    Quiet,
    Verbose,
    check_input_files,
    epilog,
    err_console,
    error_console,
    run_command,
    set_verbosity,
)

EPILOG = epilog(
    "inventory-aws",
    "Example: tinysquid inventory-aws --region eu-west-1 --tag Role=tinyproxy --monthly-gb 500 -o json "
    "--out inventory.json",
    "Picture: tinysquid inventory-aws --region eu-west-1 -o mermaid (or -o dot | dot -Tsvg > estate.svg).",
    "Prices: --prices-from auto (default) uses a region's cached AWS Price List answer, else the bundled "
    "table; --prices-from api asks the Price List API (pricing:GetProducts) and caches the answer under "
    "$XDG_CACHE_HOME/tinysquid/prices; every figure names its source and date.",
    "Read-only: only Describe*/List* calls (see --print-iam-policy). Instances are selected by any of "
    "--tag, --name-pattern, being a target of a target group on --proxy-port, or a security group "
    "allowing --proxy-port; each says why.",
)


class OutputFormat(StrEnum):
    """How the inventory document is printed."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    DOT = "dot"
    MERMAID = "mermaid"


class PricesFrom(StrEnum):
    """Where unit prices come from."""

    AUTO = "auto"
    BUNDLED = "bundled"
    API = "api"


def inventory_aws(
    region: Annotated[list[str] | None, typer.Option("--region", help="Region to list (repeatable).",
                                                      show_default=False)] = None,
    all_regions: Annotated[bool, typer.Option("--all-regions", help="List every enabled region.")] = False,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile to use.", show_default=False)] = None,
    endpoint_url: Annotated[str | None, typer.Option(
        "--endpoint-url", help="Send every AWS call to this endpoint (e.g. a local moto server).",
        show_default=False)] = None,
    tag: Annotated[list[str] | None, typer.Option(
        "--tag", help="Select instances carrying KEY=VALUE (repeatable; all must match).", show_default=False)] = None,
    name_pattern: Annotated[str | None, typer.Option(
        "--name-pattern", help="Select instances whose Name tag matches this glob.", show_default=False)] = None,
    proxy_port: Annotated[int, typer.Option("--proxy-port", help="The legacy proxy's listening port.")] = 8888,
    output: Annotated[OutputFormat, typer.Option(
        "--output", "-o", help="table, json, yaml, or the graph as dot (Graphviz) or mermaid.")] = OutputFormat.TABLE,
    out: Annotated[Path | None, typer.Option("--out", help="Write the document to FILE instead of stdout "
                                             "(`-`: stdout).", show_default=False, metavar="FILE")] = None,
    monthly_gb: Annotated[float, typer.Option(
        "--monthly-gb", help="GB proxied per month, for the NLCU and NAT gateway per-GB terms.")] = 0.0,
    print_iam_policy: Annotated[bool, typer.Option(
        "--print-iam-policy", help="Print the least-privilege read-only IAM policy and exit.")] = False,
    prices: Annotated[Path | None, typer.Option(
        "--prices", help="YAML price table overriding the packaged one.", show_default=False,
        metavar="FILE")] = None,
    prices_from: Annotated[PricesFrom, typer.Option(
        "--prices-from", help="auto: cached Price List answers, else bundled; bundled; api: ask the AWS "
        "Price List API (and cache).")] = PricesFrom.AUTO,
    pricing_endpoint_url: Annotated[str | None, typer.Option(
        "--pricing-endpoint-url", help="Price List API endpoint (default: --endpoint-url, else AWS).",
        show_default=False)] = None,
    deadline: Annotated[float, typer.Option(
        "--deadline", help="Seconds for the whole run; what is not listed by then is a gap (exit 5).",
        metavar="SECONDS")] = 300.0,
    quiet: Quiet = False,
    verbose: Verbose = 0,
    debug: Debug = False,
) -> None:
    """List the legacy EC2/NLB/target group/EIP/security group estate, read-only, with its monthly cost."""
    from tinysquid.inventory import iam

    set_verbosity(quiet, verbose)
    if out is not None and str(out) == "-":
        out = None
    if print_iam_policy:
        sys.stdout.write(iam.policy_json(live_prices=prices_from is PricesFrom.API))
        raise typer.Exit(0)

    from tinysquid.diagnostics import ExitCode, InputError
    from tinysquid.diagnostics.model import make
    from tinysquid.inventory.collect import NoCredentials
    from tinysquid.inventory.cost import load_prices
    from tinysquid.inventory.run import Options, run_inventory
    from tinysquid.inventory.select import Criteria

    with run_command():
        check_input_files(prices, source="cli.inventory")
        pairs = []
        for item in tag or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise InputError(make("TS610", f"--tag {item!r} is not KEY=VALUE", source="cli",
                                      subject="--tag"))
            pairs.append((key, value))
        if not 0 < proxy_port < 65536:
            raise InputError(make("TS610", f"--proxy-port {proxy_port} is not a TCP port", source="cli",
                                  subject="--proxy-port"))
        if not math.isfinite(monthly_gb) or monthly_gb < 0:
            raise InputError(make("TS610", f"--monthly-gb {monthly_gb:g} is not a non-negative number",
                                  source="cli", subject="--monthly-gb"))
        for flag, url in (("--endpoint-url", endpoint_url), ("--pricing-endpoint-url", pricing_endpoint_url)):
            problem = _url_problem(url)
            if problem and url is not None:
                raise InputError(make("TS610", f"{flag} {url[:80]!r} {problem}", source="cli", subject=flag))
        if not 0 < deadline <= 86400:
            raise InputError(make("TS610", f"--deadline {deadline:g} is not between 0 and 86400 seconds",
                                  source="cli", subject="--deadline"))
        from tinysquid.inventory.regions import check_regions

        check_regions(tuple(region or ()))  # before a session is made: a typo costs nothing
        if region and all_regions:
            raise InputError(make("TS610", "--region and --all-regions exclude each other", source="cli",
                                  subject="--all-regions"))
        options = Options(criteria=Criteria(tuple(pairs), name_pattern, proxy_port), regions=tuple(region or ()),
                          all_regions=all_regions, endpoint_url=endpoint_url, monthly_gb=monthly_gb,
                          prices=load_prices(prices), deadline=deadline, prices_from=str(prices_from),
                          pricing_endpoint_url=pricing_endpoint_url)
        session = _session(profile)
        try:
            result = _run_with_progress(run_inventory, session, options)
        except NoCredentials as exc:
            _no_credentials(profile, str(exc))

    doc = result.document
    for finding in result.report:
        err_console.print(f"{'gap' if finding in result.gaps else 'note'}: {finding.human()}", markup=False)
    text = _format(doc, output)
    if out is not None:
        out.write_text(text if output is not OutputFormat.TABLE else _format(doc, OutputFormat.JSON),
                       encoding="utf-8")
        err_console.print(f"wrote {out}", markup=False)
        if output is OutputFormat.TABLE:
            _print_table(doc)
    elif output is OutputFormat.TABLE:
        _print_table(doc)
    else:
        sys.stdout.write(text)
    code = ExitCode.PARTIAL if result.partial else ExitCode.OK
    if result.partial:
        err_console.print(f"partial inventory: {len(result.gaps)} gap(s); exit {int(code)}", markup=False)
    raise typer.Exit(int(code))


def _url_problem(url: str | None) -> str | None:
    """Why an endpoint URL cannot be used (botocore would raise ValueError later), or None."""
    from urllib.parse import urlsplit

    if url is None:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// URL with a host"
    del port
    return None


def _session(profile: str | None) -> Any:
    from botocore.exceptions import ProfileNotFound

    from tinysquid.inventory.collect import lean_session

    try:
        return lean_session(profile)
    except ProfileNotFound:
        _no_credentials(profile, "profile not found")


def _no_credentials(profile: str | None, reason: str | None = None) -> None:
    from tinysquid.diagnostics import ExitCode

    what = reason or "no AWS credentials found"
    if profile:
        what = f"profile {profile!r}: {what}"
    error_console.print(f"error: TS601 {what}. Set AWS_PROFILE or pass --profile (run `aws sso login` for SSO "
                      "profiles), or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.", markup=False)
    raise typer.Exit(int(ExitCode.INCOMPLETE))


def region_line(s: Any) -> str:
    """One region's progress line: what it held, or why it is missing."""
    if s.missing:
        return f"{s.region}: missing ({s.missing}) after {s.seconds:.1f} s"
    if s.empty:
        return f"{s.region}: nothing here ({s.seconds:.1f} s)"
    gaps = f", {s.gaps} gap(s)" if s.gaps else ""
    return (f"{s.region}: {s.instances} proxy instance(s), {s.elastic_ips} Elastic IP(s), "
            f"{s.load_balancers} load balancer(s){gaps} ({s.seconds:.1f} s)")


def _run_with_progress(fn: Any, session: Any, options: Any) -> Any:
    """On a terminal (stderr), a bar and one line per region as it finishes; elsewhere nothing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not err_console.is_terminal:
        return fn(session, options)
    with Progress(TextColumn("inventory"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("inventory", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        def on_region(summary: Any) -> None:
            bar.console.print(region_line(summary), markup=False, highlight=False)

        return fn(session, options, progress, on_region)


def _format(doc: dict[str, Any], output: OutputFormat) -> str:
    from tinysquid.diagnostics.render import dump_json, dump_yaml

    if output is OutputFormat.YAML:
        return dump_yaml(doc)
    if output in (OutputFormat.DOT, OutputFormat.MERMAID):
        from tinysquid.inventory import picture

        return picture.to_dot(doc) if output is OutputFormat.DOT else picture.to_mermaid(doc)
    return dump_json(doc)


def _rule(perm: dict[str, Any]) -> str:
    """``tcp/8888``, ``tcp/1000-2000``, ``all traffic`` (protocol -1, no ports), ``icmp``."""
    proto = perm.get("protocol")
    name = "all traffic" if proto in ("-1", -1, None) else str(proto)
    lo, hi = perm.get("from_port"), perm.get("to_port")
    if lo is None or proto in ("-1", -1) or lo == -1:
        return name
    return f"{name}/{lo}" if lo == hi or hi is None else f"{name}/{lo}-{hi}"


def _bold(text: str) -> Any:
    from rich.text import Text

    return Text(text, style="bold")


def _row(table: Any, *cells: Any) -> None:
    """Add one row; every cell is plain text (an AWS name holding ``[...]`` is not rich markup)."""
    from rich.text import Text

    table.add_row(*(c if isinstance(c, Text) else Text(_cell(c)) for c in cells))


def _cell(value: Any) -> str:
    """A table cell: never ``None`` or ``True``: absent is ``-``, booleans are yes/no."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _print_table(doc: dict[str, Any], console: Any = None) -> None:
    """The document as rich tables on stdout."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        import os

        console = Console(highlight=False)
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console = Console(highlight=False, width=160)  # piped: wide enough for ids and ARNs
    t = Table(title=f"Proxy instances ({', '.join(doc['regions'])})", title_justify="left")
    for col in ("instance", "name", "type", "AZ", "state", "private IP", "public IP", "selected because"):
        t.add_column(col)
    for i in doc["instances"]:
        _row(t, i["id"], i.get("name") or "-", i.get("type") or "-", i.get("availability_zone") or "-",
             i.get("state") or "-", i.get("private_ip") or "-",
                  f"{i['public_ip']} ({_cell(i.get('public_ip_kind'))})" if i.get("public_ip") else "-",
                  ", ".join(_cell(r.get("rule")) for r in i.get("selected_because") or []))  # details: -o json
    console.print(t)

    t = Table(title="Egress IPs (what third parties may have allowlisted)", title_justify="left")
    for col in ("public IP", "region", "kind", "allocation", "instance", "stable"):
        t.add_column(col)
    for e in doc["egress_ips"]:
        _row(t, e["public_ip"], e["region"], e["kind"], e.get("allocation_id") or "-",
                  e.get("instance_id") or "-", "yes" if e["stable"] else "no")
    console.print(t)

    t = Table(title="Load balancers → listeners → target groups", title_justify="left")
    for col in ("load balancer", "scheme", "DNS name", "listeners", "target group", "targets", "dereg. delay",
                "client IP", "proxy proto v2"):
        t.add_column(col)
    tgs = {tg["arn"]: tg for tg in doc["target_groups"]}
    listeners = {lst["arn"]: lst for lst in doc["listeners"]}
    for lb in doc["load_balancers"]:
        ports = ", ".join(f"{_cell(listeners[a].get('protocol'))}:{_cell(listeners[a].get('port'))}" for a in lb["listeners"] if a in listeners)
        for arn in lb["target_groups"] or [None]:
            tg = tgs.get(arn) if arn else None
            _row(t, lb.get("name") or lb["arn"], lb.get("scheme") or "-", lb.get("dns_name") or "-", ports,
                      f"{_cell(tg.get('name'))} ({_cell(tg.get('protocol'))}:{_cell(tg.get('port'))})" if tg else "-",
                      ", ".join(f"{x['id']}={_cell(x.get('health'))}" for x in tg.get("targets") or []) if tg else "-",
                      f"{tg['deregistration_delay_seconds']}s" if tg and tg["deregistration_delay_seconds"] is not None else "-",
                      tg["preserve_client_ip"] if tg else "-", tg["proxy_protocol_v2"] if tg else "-")
    console.print(t)

    names = {lb["arn"]: lb.get("name") or lb["arn"] for lb in doc["load_balancers"]}
    if doc["dns_records"]:
        t = Table(title="Route 53 records pointing at the estate", title_justify="left")
        for col in ("name", "type", "zone", "alias", "points to"):
            t.add_column(col)
        for r in doc["dns_records"]:
            _row(t, r["name"], r["type"], r["zone_name"] + (" (private)" if r["private_zone"] else ""),
                      "yes" if r["alias"] else "no",
                      f"{_cell(r.get('points_to_kind'))}:{_cell(names.get(r['points_to'], r['points_to']))}")
        console.print(t)

    if doc["security_groups"]:
        t = Table(title="Security groups", title_justify="left")
        for col in ("group", "name", "ingress", "attached to"):
            t.add_column(col)
        for sg in doc["security_groups"]:
            ingress = "; ".join(f"{_rule(p)} from {', '.join(_cell(x) for x in p.get('sources') or []) or '-'}"
                                for p in sg.get("ingress") or [])
            _row(t, sg["id"], sg.get("name"), ingress, ", ".join(_cell(x) for x in sg.get("attached_to") or []))
        console.print(t)

    costs = doc["costs"]
    t = Table(title=f"Monthly cost ({costs['currency']}, {costs['hours_per_month']:g} h/month, "
                    f"{costs['monthly_gb']:g} GB/month)", title_justify="left")
    for col in ("side", "resource", "item", "basis", "monthly"):
        t.add_column(col)
    for side in ("legacy", "target"):
        for item in costs[side]["items"]:
            b = item["basis"]
            basis = (f"{b['quantity']:g} × {b['hours']:g} h × ${b['unit_price']:g}" if b["hours"] is not None
                     else f"{b['quantity']:g} × ${b['unit_price']:g}")
            basis += f" ({_cell(b.get('price_region'))}, {_cell(b.get('as_of'))})"
            kind, _, ident = item["resource"].partition(":")
            _row(t, side, names.get(ident, ident) if kind == "lb" else ident, item["item"], basis,
                      _money(item["monthly_usd"]))
        _row(t, side, "", _bold("total"), "", _bold(_money(costs[side]['monthly_total'])))
    console.print(t)
    console.print(f"legacy {_money(costs['monthly_total'])}/month · NAT gateway target "
                  f"{_money(costs['target']['monthly_total'])}/month (incremental "
                  f"{_money(costs['target']['incremental_monthly_total'])}) · gaps: {len(doc['gaps'])}")
