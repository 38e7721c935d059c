"""`tinysquid verify`: Send the same probes through the old and the new proxy and show where their decisions differ."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

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

if TYPE_CHECKING:  # the CLI imports the verify package only when the command runs
    from collections.abc import Callable

    from tinysquid.verify.model import ProbeResult
    from tinysquid.verify.run import VerifyRequest, VerifyRun

EPILOG = epilog(
    "verify",
    "Example: tinysquid verify --old http://10.0.0.5:8888 --new http://squid.egress.svc:3128 "
    "--config tinyproxy.conf --from-log /var/log/tinyproxy/tinyproxy.log",
    "CONNECT probes send only the CONNECT request and hold the tunnel --tunnel-hold seconds without "
    "sending into it; plain probes are GET/HEAD without a body, sent as written.",
    "An answer counts only "
    "when complete (full head within limits and --timeout) and attributed: an origin's 403 is the "
    "origin's, so the proxy allowed. Results: agree, widened (old refused, new allows), narrowed (old "
    "allowed, new refuses), changed, noisy (two --old proxies disagree, or flaky on --repeat), "
    "intended (declared in --expect), error (no usable or an ambiguous answer).",
    "-o html > verify.html: one self-contained page, differences first, filterable. --print-job: the "
    "Kubernetes Job that runs the same verify inside the cluster (kubectl apply -f -).",
)


class Output(StrEnum):
    """What verify prints on stdout."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"
    JUNIT = "junit"
    MARKDOWN = "markdown"
    HTML = "html"


def verify(
    old: Annotated[list[str], typer.Option("--old", help="The old (tinyproxy) proxy, http://host:port. "
                                           "Give twice to detect noise.", show_default=False)],
    new: Annotated[str, typer.Option("--new", help="The new (squid) proxy, http://host:port.", show_default=False)],
    config: Annotated[Path | None, typer.Option("--config", help="Derive probes from this tinyproxy.conf's rules.")] = None,
    from_log: Annotated[list[Path] | None, typer.Option("--from-log", help="Replay requests from a tinyproxy log (repeatable).")] = None,
    targets: Annotated[list[Path] | None, typer.Option("--targets", help="A file of `METHOD URL` or `host:port` lines (repeatable).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=1000,
                                             help="Probes in flight at once (keep it below the old proxy's MaxClients).")] = 8,
    timeout: Annotated[float, typer.Option("--timeout", min=0.05, help="Seconds to wait for one answer.")] = 10.0,
    deadline: Annotated[float, typer.Option("--deadline", min=0.1, help="Seconds for the whole run; then report what finished.")] = 300.0,
    repeat: Annotated[int, typer.Option("--repeat", min=0, max=20, help="Re-run a disagreeing probe N times to tell flaky from real.")] = 0,
    connect_only: Annotated[bool, typer.Option("--connect-only", help="Send CONNECT probes only.")] = False,
    old_auth: Annotated[list[str] | None, typer.Option("--old-auth", help="USER:PASS or env:VAR for the old proxy (never printed).")] = None,
    new_auth: Annotated[str | None, typer.Option("--new-auth", help="USER:PASS or env:VAR for the new proxy (never printed).")] = None,
    max_probes: Annotated[int | None, typer.Option("--max-probes", min=1, help="Stop after this many distinct probes.")] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="On stdout: table, json, yaml, junit, markdown "
                                           "or html (one self-contained page).")] = Output.TABLE,
    report: Annotated[Path | None, typer.Option("--report", help="Also write the JSON document to this file.",
                                                metavar="FILE")] = None,
    source_ip: Annotated[str | None, typer.Option("--source-ip", help="Bind probe sockets to this local address.")] = None,
    tinyproxy_version: Annotated[str, typer.Option("--tinyproxy-version", help="Grammar of --config: 1.8, 1.10 or 1.11.")] = "1.11",
    root: Annotated[Path | None, typer.Option("--root", help="Look up absolute paths in --config (Filter) under this directory.")] = None,
    route_header: Annotated[str | None, typer.Option("--route-header", help="A response header naming the route taken "
                                                     "(e.g. set by parents); compared when both allow.")] = None,
    http_port: Annotated[int, typer.Option("--http-port", min=1, max=65535, help="Port of rule-derived plain-HTTP probes.")] = 80,
    expect: Annotated[Path | None, typer.Option("--expect", help="Expectation file (convert's expect.json): "
                                                "declared differences count as `intended`.")] = None,
    allow_errors: Annotated[bool, typer.Option("--allow-errors", help="Probes without a usable answer do not "
                                               "fail the run (an unreachable proxy still does).")] = False,
    tunnel_hold: Annotated[float, typer.Option("--tunnel-hold", min=0.0, max=10.0, help="Seconds a CONNECT "
                                               "tunnel must stay open to count as open (nothing is sent into it).")] = 0.2,
    tunnel_echo: Annotated[list[str] | None, typer.Option("--tunnel-echo", help="HOST:PORT of an echo server "
                                                          "you run: CONNECT probes to it carry a nonce there and back "
                                                          "(repeatable).")] = None,
    print_job: Annotated[bool, typer.Option("--print-job", help="Print the Kubernetes Job (with a ConfigMap of "
                                            "its input files) that runs this verify inside the cluster, for "
                                            "`kubectl apply -f -`; sends no probe.")] = False,
    job_image: Annotated[str | None, typer.Option("--job-image", help="The image of --print-job's Job (built "
                                                  "from the Dockerfile; default tinysquid:VERSION).", metavar="IMAGE")] = None,
    job_namespace: Annotated[str, typer.Option("--job-namespace", help="Namespace of --print-job's Job "
                                               "(where the squid Service is).")] = "squid",
    quiet: Quiet = False,
    verbose: Verbose = 0,
    debug: Debug = False,
) -> None:
    """Send the same probes through the old and the new proxy and show where their decisions differ."""
    from tinysquid.verify.engine import EngineOptions
    from tinysquid.verify.run import VerifyRequest, execute

    set_verbosity(quiet, verbose)
    req = VerifyRequest(
        old=list(old), new=new, old_auth=list(old_auth or []), new_auth=new_auth, config=config,
        tinyproxy_version=tinyproxy_version, root=root, from_log=list(from_log or []),
        targets=list(targets or []), connect_only=connect_only, max_probes=max_probes, http_port=http_port,
        engine=EngineOptions(concurrency=concurrency, timeout=timeout, deadline=deadline, repeat=repeat,
                             source_ip=source_ip, route_header=route_header, tunnel_hold=tunnel_hold,
                             tunnel_echo=frozenset(t.lower() for t in tunnel_echo or ())),
        expect=expect, allow_errors=allow_errors,
    )
    if print_job:
        with run_command():
            _check_inputs([p for p in (config, expect, *(from_log or []), *(targets or [])) if p is not None], None)
            sys.stdout.write(_job_yaml(req, job_image, job_namespace, repeat=repeat))
        raise typer.Exit(0)
    with run_command():  # bad input is exit 2, as in every command (4 is a run that could not be made)
        _check_inputs([p for p in (config, expect, *(from_log or []), *(targets or [])) if p is not None], report)
        run = _execute_with_progress(req, execute)
    try:
        if report is not None:
            with open(report, "w", encoding="utf-8") as fh:
                run.write_json(fh)
        _emit(run, output)
        for d in run.report:
            colour = "red" if d.severity == "error" else "yellow" if d.severity == "warning" else "dim"
            (error_console if d.severity == "error" else err_console).print(f"[{colour}]{escape(d.human())}[/]")
        code = run.exit_code()
    finally:
        run.spool.close()
    raise typer.Exit(int(code))


def _job_yaml(req: VerifyRequest, image: str | None, namespace: str, *, repeat: int) -> str:
    """The ConfigMap and Job that run ``req`` in the cluster (credentials as Secret references)."""
    from tinysquid._version import __version__
    from tinysquid.plan import job
    from tinysquid.verify.run import parse_proxy

    # the same checks as a run (a bad URL is refused here, not in the pod); userinfo never goes
    # into the manifest: the Job reads credentials from its Secret
    olds = [parse_proxy(url, "old" if i == 0 else f"old{i + 1}", None) for i, url in enumerate(req.old)]
    new = parse_proxy(req.new, "new", None)
    filter_name, filter_local = (job.filter_of(req.config, root=req.root, tinyproxy_version=req.tinyproxy_version)
                                 if req.config is not None else (None, None))
    e = req.engine
    options = ["--concurrency", str(e.concurrency), "--timeout", f"{e.timeout:g}",
               "--tinyproxy-version", req.tinyproxy_version, "--http-port", str(req.http_port)]
    options += ["--repeat", str(repeat)] if repeat else []
    options += ["--max-probes", str(req.max_probes)] if req.max_probes else []
    options += ["--connect-only"] if req.connect_only else []
    options += ["--allow-errors"] if req.allow_errors else []
    options += ["--route-header", e.route_header] if e.route_header else []
    plan = job.plan_job(namespace=namespace, image=image or f"tinysquid:{__version__}", old=[o.display for o in olds],
                        new=new.display, config=req.config, filter_name=filter_name, filter_local=filter_local,
                        expect=req.expect, from_log=req.from_log, targets=req.targets,
                        old_auth=bool(req.old_auth) or any(o.credentials for o in olds),
                        new_auth=bool(req.new_auth) or new.credentials is not None, options=options,
                        deadline=e.deadline or 300.0)
    docs = ([job.inputs_configmap(plan, version=__version__)] if plan.files else [])
    return job.to_yaml([*docs, job.job_manifest(plan, version=__version__)])


def _check_inputs(paths: list[Path], report: Path | None) -> None:
    """Every input file is readable and the --report folder exists, before any probe is sent."""
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make

    check_input_files(*paths, source="cli.verify")
    if report is not None and not report.parent.is_dir():
        raise InputError(make("TS001", f"--report {report}: folder {report.parent} does not exist",
                              source="cli.verify", subject=str(report)))


def _execute_with_progress(req: VerifyRequest,
                           execute: Callable[[VerifyRequest, Callable[[ProbeResult], None]], VerifyRun]) -> VerifyRun:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn("probing"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[diff]}"), TimeElapsedColumn(), console=err_console,
                        transient=True, disable=not err_console.is_terminal)
    with progress:
        task = progress.add_task("probing", total=req.max_probes, diff="")
        counts = {"diff": 0}

        def on_result(result: ProbeResult) -> None:
            if result.outcome.value != "agree":
                counts["diff"] += 1
            progress.update(task, advance=1, diff=f"{counts['diff']} not agreeing" if counts["diff"] else "")

        return execute(req, on_result)


def _emit(run: VerifyRun, output: Output) -> None:
    from tinysquid.verify.report import write_junit, write_markdown

    if output is Output.HTML:
        from tinysquid.verify.html import write_html

        write_html(sys.stdout, run.summary, run.spool.records, old=[p.display for p in run.old],
                   new=run.new.display, complete=run.stats.complete, verdict=run.verdict())
    elif output is Output.JSON:
        run.write_json(sys.stdout)
    elif output is Output.YAML:
        import io
        import json

        from tinysquid.diagnostics.render import dump_yaml

        buf = io.StringIO()
        run.write_json(buf)
        sys.stdout.write(dump_yaml(json.loads(buf.getvalue())))
    elif output is Output.JUNIT:
        write_junit(sys.stdout, run.summary, run.spool.records())
    elif output is Output.MARKDOWN:
        write_markdown(sys.stdout, run.summary, run.spool.records(), old=[p.display for p in run.old],
                       new=run.new.display, complete=run.stats.complete)
    elif run.dead:
        # A proxy that answers nothing: one line, not a table of errors (-o json keeps every probe).
        print(run.verdict())
    else:
        _table(run)
        print(run.verdict())


def _why(result: ProbeResult) -> str:
    """The rule/log/file line behind the probe; plus the note when the class pair does not say it all."""
    if result.note and result.outcome.value in ("noisy", "changed", "error", "intended"):
        return f"{result.probe.why}; {result.note}" if result.probe.why else result.note
    return result.probe.why


def _table(run: VerifyRun) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=False, width=max(100, Console().width))
    counts = run.summary.counts()
    t = Table(title=f"tinysquid verify: {', '.join(p.display for p in run.old)} → {run.new.display}")
    for k in counts:
        t.add_column(k, justify="right")
    styles = {"widened": "bold red", "narrowed": "yellow", "changed": "yellow", "errors": "magenta",
              "ambiguous": "magenta", "intended": "cyan"}
    t.add_row(*(f"[{styles[k]}]{v}[/]" if v and k in styles else str(v) for k, v in counts.items()))
    out.print(t)
    lat = run.summary.latency()
    if lat:
        lt = Table(title="time to first byte (ms)")
        lt.add_column("proxy")
        lt.add_column("p50", justify="right")
        lt.add_column("p95", justify="right")
        for name, v in lat.items():
            lt.add_row(name, str(v["p50"]), str(v["p95"]))
        out.print(lt)
    if run.spool.shown:
        dt = Table(title="probes that do not agree")
        for col in ("result", "request", *(p.name for p in run.old), "new", "why"):
            dt.add_column(col, overflow="fold")
        for r in sorted(run.spool.shown, key=lambda r: (r.outcome.value != "widened", r.index)):
            style = "bold red" if r.outcome.value == "widened" else ""
            dt.add_row(f"[{style}]{r.outcome.value}[/]" if style else r.outcome.value, escape(r.probe.label()),
                       *(escape(a.short()) for a in r.old), escape(r.new.short()), escape(_why(r)))
        out.print(dt)
        if run.spool.hidden:
            out.print(f"… and {run.spool.hidden} more (see -o json or --report)")
    if not run.stats.complete:
        out.print("[yellow]incomplete run: not every probe was sent[/]")
