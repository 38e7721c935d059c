"""`tinysquid convert`: tinyproxy.conf → squid.conf + Helm values + a line-by-line report."""

from __future__ import annotations

import shutil
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from tinysquid.cli._common import err_console, run_command

_E = TypeVar("_E", bound=StrEnum)

EPILOG = (
    "Example: tinysquid convert examples/egress-allowlist/tinyproxy.conf -o out/\n\n"
    "Writes squid.conf, values.yaml, report.json and report.md (plus htpasswd and a Secret "
    "manifest when BasicAuth is used), post-renderer/ (Helm 3 and 4) and argocd/ into OUT, all at "
    "once or not at all.\n\n"
    "Reviewed findings: tinysquid.toml (or \\[tool.tinysquid] in pyproject.toml) in this folder or a "
    "parent, `ignore = [\"TS401\", \"TS257:allow.list\"]`, and --ignore CODE[:FILE[:LINE]].\n\n"
    "Exit codes: 0 converted · 1 converted, but --strict and some line is not exact (ignored ones aside) · "
    "2 bad input (the message names file:line:col), --validate failed, or an object would pass "
    "Kubernetes' 1 MiB limit."
)


class ReportFormat(StrEnum):
    """What convert prints about the translation."""

    TABLE = "table"
    JSON = "json"


def convert(
    config: Annotated[Path, typer.Argument(help="The tinyproxy.conf to translate.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the results into.",
                                      show_default=False)],
    squid_version: Annotated[str, typer.Option("--squid-version", help="Target squid major version: 5, 6 or 7.")] = "6",
    chart_version: Annotated[str, typer.Option("--chart-version", help="Target chart line: 0.9 or 0.7.")] = "0.9",
    tinyproxy_version: Annotated[str, typer.Option(
        "--tinyproxy-version", help="Grammar of the input: 1.8, 1.10 or 1.11.")] = "1.11",
    root: Annotated[Path | None, typer.Option(
        "--root", help="Look up absolute paths named in the config (Filter) under this directory.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any line is not carried over exactly.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT even if it is not empty.")] = False,
    validate: Annotated[bool, typer.Option("--validate", help="Run `squid -k parse` on the result; fail if it fails.")] = False,
    harden: Annotated[bool, typer.Option("--harden/--no-harden",
                                         help="Add deliberate narrowing (metadata range, manager, fd cap).")] = True,
    tighten: Annotated[bool, typer.Option("--tighten", help="Anchor unanchored legacy patterns (reported).")] = False,
    socks_direct: Annotated[bool, typer.Option(
        "--socks-direct", help="Let SOCKS upstream routes connect directly (default: they fail, closed).")] = False,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Report on stdout: table (stderr summary) or json.")] = ReportFormat.TABLE,
    kube_version: Annotated[str | None, typer.Option(
        "--kube-version", help="The cluster's Kubernetes version X.Y (picks service.trafficDistribution).",
        show_default=False)] = None,
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="squid pods (replicaCount).")] = 2,
    zones: Annotated[int, typer.Option("--zones", min=1,
                                       help="Zones the pods must cover (topology spread minDomains).")] = 2,
    spread: Annotated[str, typer.Option(
        "--spread", help="Zone spread: required (DoNotSchedule + minDomains) or best-effort (ScheduleAnyway).")
    ] = "required",
    ignore: Annotated[list[str] | None, typer.Option(
        "--ignore", metavar="CODE[:FILE[:LINE]]",
        help="Accept a reviewed finding (repeatable; adds to tinysquid.toml's `ignore`): it stays in "
             "report.json marked ignored and no longer fails --strict.", show_default=False)] = None,
) -> None:
    """Translate a tinyproxy.conf into squid.conf and Helm values, naming every line not carried over exactly."""
    from tinysquid import convert as core
    from tinysquid.diagnostics import ExitCode, render

    with run_command():
        from tinysquid import project

        options = core.ConvertOptions(
            squid_version=_choice(core.SquidVersion, squid_version, "--squid-version"),
            chart_version=_choice(core.ChartVersion, chart_version, "--chart-version"),
            tinyproxy_version=_choice(core.TinyproxyVersion, tinyproxy_version, "--tinyproxy-version"),
            root=root,
            harden=harden,
            tighten=tighten,
            kube_version=_kube_version(kube_version),
            replicas=replicas,
            zones=zones,
            spread_required=_spread(spread),
            socks_direct=socks_direct,
            ignore=project.ignore_specs(ignore),
        )
        _check_out_dir(out, force)
        result = core.convert_file(config, options)
        if validate:
            _validate(result.files["squid.conf"].text)
        core.write_outputs(result, out, force=force)

    if fmt is ReportFormat.JSON:
        sys.stdout.write(result.files["report.json"].text)
    render.print_summary(result.report, err_console, title=f"{config} → {out}")
    code = result.report.exit_code(strict=strict)
    if code is ExitCode.OK:
        err_console.print(f"[green]wrote[/] {', '.join(sorted(result.files))} to {out}")
    raise typer.Exit(int(code))


def _choice(enum: type[_E], value: str, flag: str) -> _E:
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make

    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InputError(make("TS004", f"{flag} {value!r} is not one of: {allowed}", source="cli",
                              subject=flag)) from None


def _kube_version(value: str | None) -> str | None:
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make
    from tinysquid.helm.values import parse_kube_version

    if value is None:
        return None
    try:
        major, minor = parse_kube_version(value)
    except ValueError as exc:
        raise InputError(make("TS004", f"--kube-version {exc}", source="cli", subject="--kube-version")) from None
    return f"{major}.{minor}"


def _spread(value: str) -> bool:
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make

    if value not in ("required", "best-effort"):
        raise InputError(make("TS004", f"--spread {value!r} is not one of: required, best-effort",
                              source="cli", subject="--spread"))
    return value == "required"


def _check_out_dir(out: Path, force: bool) -> None:
    """Refuse a non-empty OUT before doing any work (write_outputs checks again, atomically)."""
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make

    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise InputError(make("TS003", f"{out} exists and is not empty; pass --force to replace it",
                              source="cli", subject=str(out)))


def _validate(squid_conf: str | bytes) -> None:
    """Run the real ``squid -k parse`` on the generated file; bad output is exit 2 (TS901/TS902)."""
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make
    from tinysquid.squid import check

    binary = shutil.which("squid") or (("/usr/sbin/squid") if Path("/usr/sbin/squid").exists() else None)
    if binary is None:
        raise InputError(make("TS902", "--validate: no squid binary found on PATH", source="cli",
                              subject="squid"))
    with tempfile.TemporaryDirectory(prefix="tinysquid-validate-") as tmp:
        conf = Path(tmp) / "squid.conf"
        conf.write_text(squid_conf if isinstance(squid_conf, str) else squid_conf.decode())
        outcome = check.squid_parse(conf, squid_binary=binary)
    if not outcome.ok:
        raise InputError(make("TS901", f"squid -k parse rejected the generated squid.conf: {outcome.summary}",
                              source="squid.check", subject="squid.conf"))

