"""`tinysquid convert`: tinyproxy.conf → squid.conf + Helm values + a line-by-line report."""

from __future__ import annotations

import shutil
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from tinysquid.cli._common import (
    VERBOSITY,
    Debug,
    Quiet,
    Verbose,
    epilog,
    err_console,
    run_command,
    set_verbosity,
)

_E = TypeVar("_E", bound=StrEnum)

EPILOG = epilog(
    "convert",
    "Example: tinysquid convert examples/egress-allowlist/tinyproxy.conf --out-dir out/",
    "Writes squid.conf, values.yaml, report.json, report.md and expect.json (plus htpasswd and a Secret "
    "manifest when BasicAuth is used), post-renderer/ (Helm 3 and 4) and argocd/ into OUT_DIR, all at "
    "once or not at all. One document to stdout: tinysquid convert tinyproxy.conf --only values "
    "--out-dir - | helm install squid oci://ghcr.io/younsl/charts/squid --version 0.9.0 -n squid "
    "--create-namespace -f -",
    "Reviewed findings: tinysquid.toml (or \\[tool.tinysquid] in pyproject.toml) in this folder or a "
    "parent, `ignore = [\"TS401\", \"TS257:allow.list\"]`, and --ignore CODE[:FILE[:LINE]].",
)


class ReportFormat(StrEnum):
    """What convert prints about the translation on stdout (-o/--output)."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


class Only(StrEnum):
    """One document instead of the whole folder (--only)."""

    VALUES = "values"
    SQUID_CONF = "squid.conf"
    REPORT = "report"
    EXPECT = "expect"


ONLY_FILES = {Only.VALUES: "values.yaml", Only.SQUID_CONF: "squid.conf", Only.REPORT: "report.json",
              Only.EXPECT: "expect.json"}


def convert(
    config: Annotated[Path, typer.Argument(help="The tinyproxy.conf to translate.", show_default=False,
                                           metavar="TINYPROXY_CONF")],
    out_dir: Annotated[str | None, typer.Option("--out-dir", help="Folder to write the results into (required); "
                                                "`-` writes the one document --only names to stdout.",
                                                show_default=False, metavar="DIR")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="The report on stdout: table (a summary on "
                                        "stderr, nothing on stdout), json or yaml.", metavar="table|json|yaml",
                                        autocompletion=lambda: [f.value for f in ReportFormat])
                      ] = "table",
    only: Annotated[Only | None, typer.Option("--only", help="Write only this document (values.yaml, squid.conf, "
                                              "report.json or expect.json); squid.conf builds no chart files, "
                                              "so a filter over the chart's 1 MiB still converts.",
                                              show_default=False)] = None,
    squid_version: Annotated[str, typer.Option("--squid-version", help="Target squid major version: 5, 6 or 7.",
                                               metavar="5|6|7")] = "6",
    chart_version: Annotated[str, typer.Option("--chart-version", help="Target chart line: 0.9 or 0.7.",
                                               metavar="0.9|0.7")] = "0.9",
    tinyproxy_version: Annotated[str, typer.Option(
        "--tinyproxy-version", help="Grammar of the input: 1.8, 1.10 or 1.11.", metavar="1.8|1.10|1.11")] = "1.11",
    root: Annotated[Path | None, typer.Option(
        "--root", help="Look up absolute paths named in the config (Filter) under this directory.",
        metavar="DIR")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any line is not carried over exactly.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT_DIR even if it is not empty.")] = False,
    validate: Annotated[bool, typer.Option("--validate", help="Run `squid -k parse` on the result; fail if it fails.")] = False,
    harden: Annotated[bool, typer.Option("--harden/--no-harden",
                                         help="Add deliberate narrowing (metadata range, manager, fd cap).")] = True,
    tighten: Annotated[bool, typer.Option("--tighten", help="Anchor unanchored legacy patterns (reported).")] = False,
    socks_direct: Annotated[bool, typer.Option(
        "--socks-direct", help="Let SOCKS upstream routes connect directly (default: they fail, closed).")] = False,
    kube_version: Annotated[str | None, typer.Option(
        "--kube-version", help="The cluster's Kubernetes version X.Y (picks service.trafficDistribution).",
        show_default=False, metavar="X.Y")] = None,
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="squid pods (replicaCount).")] = 2,
    zones: Annotated[int, typer.Option("--zones", min=1,
                                       help="Zones the pods must cover (topology spread minDomains).")] = 2,
    spread: Annotated[str, typer.Option(
        "--spread", help="Zone spread: required (DoNotSchedule + minDomains) or best-effort (ScheduleAnyway).",
        metavar="required|best-effort")] = "required",
    ignore: Annotated[list[str] | None, typer.Option(
        "--ignore", metavar="CODE[:FILE[:LINE]]",
        help="Accept a reviewed finding (repeatable; adds to tinysquid.toml's `ignore`): it stays in "
             "report.json marked ignored and no longer fails --strict.", show_default=False)] = None,
    quiet: Quiet = False,
    verbose: Verbose = 0,
    debug: Debug = False,
) -> None:
    """Translate a tinyproxy.conf into squid.conf and Helm values, naming every line not carried over exactly."""
    from dataclasses import replace

    from tinysquid import convert as core
    from tinysquid.diagnostics import ExitCode, render

    set_verbosity(quiet, verbose)
    with run_command():
        from tinysquid import project

        fmt = _output(output)
        out_dir = _out_dir(out_dir)
        to_stdout = out_dir == "-"
        _check_stdout(to_stdout, only, fmt)
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
            only=core.OutputSet.SQUID_CONF if only is Only.SQUID_CONF else core.OutputSet.ALL,
        )
        out = Path(out_dir)
        if not to_stdout:
            _check_out_dir(out, force)
        result = core.convert_file(config, options)
        if validate:
            _validate(result.files["squid.conf"].text)
        written = result
        if only is not None:
            name = ONLY_FILES[only]
            written = replace(result, files={name: result.files[name]})
        if to_stdout:
            [document] = written.files.values()  # _check_stdout: --only names exactly one
            sys.stdout.flush()
            sys.stdout.buffer.write(document.data)
            sys.stdout.buffer.flush()
        else:
            core.write_outputs(written, out, force=force)

    if fmt is ReportFormat.JSON:
        sys.stdout.write(result.files["report.json"].text)
    elif fmt is ReportFormat.YAML:
        import json

        sys.stdout.write(render.dump_yaml(json.loads(result.files["report.json"].text)))
    where = "stdout" if to_stdout else str(out)
    render.print_summary(result.report, err_console, title=f"{config} → {where}", show_exact=VERBOSITY.verbose)
    code = result.report.exit_code(strict=strict)
    if code is ExitCode.OK:
        err_console.print(f"[green]wrote[/] {', '.join(sorted(written.files))} to {where}")
    raise typer.Exit(int(code))


def _output(value: str) -> ReportFormat:
    """-o is a format, as in kubectl, helm and the AWS CLI; a folder there is the old spelling."""
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make

    try:
        return ReportFormat(value)
    except ValueError:
        pass
    allowed = ", ".join(f.value for f in ReportFormat)
    raise InputError(make("TS016", f"-o/--output {value!r} is not an output format ({allowed}); convert "
                          f"writes its folder with --out-dir {value}", source="cli", subject="-o"))


def _out_dir(value: str | None) -> str:
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make

    if value is None:
        raise InputError(make("TS004", "--out-dir DIR is required (the folder to write into, or - with --only)",
                              source="cli", subject="--out-dir"))
    return value


def _check_stdout(to_stdout: bool, only: Only | None, fmt: ReportFormat) -> None:
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make

    if to_stdout and only is None:
        raise InputError(make("TS017", "--out-dir - writes one document to stdout: name it with --only "
                              + "|".join(o.value for o in Only), source="cli", subject="--out-dir"))
    if to_stdout and fmt is not ReportFormat.TABLE:
        raise InputError(make("TS017", f"--out-dir - and -o {fmt.value} would both write to stdout; keep "
                              "-o table (the summary goes to stderr)", source="cli", subject="--out-dir"))


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

