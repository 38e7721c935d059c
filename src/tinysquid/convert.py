"""The convert pipeline: tinyproxy.conf → Policy → passes → squid.conf + Helm values + report.

``convert_file`` is pure (reads inputs, returns files and a Report, prints nothing);
``write_outputs`` writes them atomically. The CLI is a thin shell over these two.
The options and stage enums live in :mod:`tinysquid.options` (re-exported here).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tinysquid._fs import OutputFile, write_dir_atomically
from tinysquid._version import __version__
from tinysquid.diagnostics import Report
from tinysquid.options import ChartVersion, ConvertOptions, OutputSet, SquidVersion, TinyproxyVersion
from tinysquid.policy import ir

if TYPE_CHECKING:
    from tinysquid.tinyproxy import LoadedConfig


@dataclass
class ConvertResult:
    """The files to write (relative name → content/mode), the Report, and the Policy they came from."""

    files: dict[str, OutputFile] = field(default_factory=dict)
    report: Report = field(default_factory=Report)
    policy: ir.Policy | None = None


def convert_file(path: Path, options: ConvertOptions | None = None) -> ConvertResult:
    """Translate one tinyproxy.conf (and its filter file) into squid.conf, values.yaml and reports.

    Raises:
        InputError: the input is something tinyproxy itself would refuse, or cannot be read.
    """
    with _no_cyclic_gc():
        return _convert(path, options or ConvertOptions())


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one conversion.

    A large filter makes hundreds of thousands of long-lived, acyclic objects (findings, spans,
    patterns, lines); every generation-2 collection walks all of them again and frees nothing
    (~1 s of a 4.6 s conversion of 100,000 entries). Reference counting still frees everything as
    usual; the collector is re-enabled (if it was on) when the conversion ends, even on error.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _convert(path: Path, options: ConvertOptions) -> ConvertResult:
    from tinysquid import tinyproxy

    return emit(tinyproxy.load(Path(path), options), options)


def emit(loaded: LoadedConfig, options: ConvertOptions | None = None) -> ConvertResult:
    """The back half of convert: print an already loaded config (``tinyproxy.load``) as squid.conf,
    values.yaml, the deploy files and the reports; the back ends' findings join ``loaded.report``."""
    from tinysquid.diagnostics.model import make
    from tinysquid.squid import auth as squid_auth
    from tinysquid.squid import render as squid_render

    options = options or ConvertOptions()
    path = loaded.path
    result = ConvertResult(report=loaded.report)
    report = loaded.report
    policy = loaded.policy
    squid_conf, chart_conf = squid_render.render_squid_confs(policy, squid_version=options.squid_version,
                                                             report=report)
    # The large outputs are held as UTF-8 bytes: a str with one non-ASCII character (the em dash
    # in the header, an arrow in a message) takes two bytes per character, ~45 MB more for a
    # 100,000-entry allowlist. Each str is dropped as soon as its bytes exist.
    result.files["squid.conf"] = OutputFile(squid_conf.encode("utf-8"))
    del squid_conf
    if options.only is OutputSet.SQUID_CONF:
        report.add(make("TS405", "squid.conf alone: values.yaml, post-renderer/ and argocd/ are not built and the "
                        "chart's 1 MiB size check (TS340) is skipped", source="convert", subject="--only"))
    else:
        _emit_chart_files(result, policy, chart_conf, options)
    del chart_conf
    result.files.update(squid_auth.render_auth_files(policy, report=report))
    from tinysquid.proof.check import check_policy  # each pattern's squid form proven, or a witness
    from tinysquid.proof.sites import check_sites  # upstream sites and client host names, likewise

    check_policy(policy, report, options.squid_version)
    check_sites(policy, report)
    settle_line_statuses(report)
    apply_ignore(report, options)
    result.policy = policy
    # The reports are streamed to disk as they are rendered (OutputFile with a function): for
    # 100,000 unanchored entries they are ~270 MB that never need to be in memory at once.
    # ``report`` must not change from here on; nothing after emit() adds to it.
    result.files["report.json"] = OutputFile(lambda: _iter_report_json(report, path, options))
    result.files["report.md"] = OutputFile(lambda: _iter_report_markdown(report, path))
    # The differences this conversion intends (hardening, --tighten, fail-closed upstreams), for
    # `verify --expect` and plan-cutover's verify gate (tinysquid.expectations).
    from tinysquid import expectations

    doc = expectations.document(expectations.from_conversion(policy, report), generated_by=GENERATED_BY,
                                input=str(path))
    result.files[expectations.FILE_NAME] = OutputFile((json.dumps(doc, indent=2) + "\n").encode("utf-8"))
    return result


def _emit_chart_files(result: ConvertResult, policy: ir.Policy, chart_conf: str, options: ConvertOptions) -> None:
    """values.yaml (size-checked: over 1 MiB raises TS340), post-renderer/ and argocd/."""
    from tinysquid import deploy
    from tinysquid.helm import size as helm_size
    from tinysquid.helm import values as helm_values

    report = result.report
    values = helm_values.render_values(
        policy, chart_conf, chart_version=options.chart_version, report=report,
        kube_version=helm_values.parse_kube_version(options.kube_version) if options.kube_version else None,
        replicas=options.replicas, zones=options.zones, spread_required=options.spread_required)
    helm_size.check(values, chart_conf, options.chart_version, report)
    deploy_settings = deploy.settings_for(policy, values, options.chart_version)
    result.files["values.yaml"] = OutputFile(helm_values.dump_values(values, str(options.chart_version)).encode("utf-8"))
    result.files.update(deploy.deploy_files(deploy_settings, result.files["values.yaml"].data, report))


def write_outputs(result: ConvertResult, out_dir: Path, *, force: bool = False) -> None:
    """Write ``result.files`` into ``out_dir`` atomically (temp dir + rename)."""
    write_dir_atomically(result.files, Path(out_dir), force=force)


GENERATED_BY = f"tinysquid {__version__}"
REPORT_SCHEMA_VERSION = 1


def settle_line_statuses(report: Report) -> None:
    """Leave one fidelity verdict per input line: drop a line's ``exact`` finding when any other
    status finding names the same line (a back end found it inexact after the front end passed it)."""
    from tinysquid.diagnostics.model import Status

    inexact = {(d.span.path, d.span.line) for d in report.diagnostics
               if d.span is not None and d.status not in (None, Status.EXACT)}
    report.diagnostics[:] = [
        d for d in report.diagnostics
        if not (d.status is Status.EXACT and d.span is not None and (d.span.path, d.span.line) in inexact)
    ]


def apply_ignore(report: Report, options: ConvertOptions) -> int:
    """Mark the findings ``options.ignore`` accepts (reviewed), warn about rules matching nothing
    (TS023); returns how many are ignored.

    Raises:
        InputError: TS025, a rule that is not ``CODE[:FILE[:LINE]]`` with a known non-error code.
    """
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics import ignore as ign
    from tinysquid.diagnostics.model import Span, make

    rules = []
    for spec in options.ignore:
        origin = Span(spec.path, spec.line or 1) if spec.path is not None else None
        try:
            rules.append(ign.parse_rule(spec.rule, origin))
        except ValueError as exc:
            raise InputError(make("TS025", f"ignore rule {exc}", source="config", span=origin,
                                  subject=None if origin else "--ignore")) from None
    return ign.apply(report, rules)


def render_report_json(report: Report, config_path: Path, options: ConvertOptions) -> bytes:
    """``report.json`` (UTF-8): apiVersion, kind (``ConvertReport``), schema_version, generator,
    input, options, summary, findings."""
    return b"".join(_iter_report_json(report, config_path, options))


def _iter_report_json(report: Report, config_path: Path, options: ConvertOptions) -> Iterator[bytes]:
    from tinysquid import documents
    from tinysquid.diagnostics import render

    return render.iter_report_json_lines(
        report,
        **documents.header(documents.Kind.CONVERT_REPORT),
        generated_by=GENERATED_BY,
        input=str(config_path),
        options={"squid_version": str(options.squid_version), "chart_version": str(options.chart_version),
                 "tinyproxy_version": str(options.tinyproxy_version), "harden": options.harden,
                 "tighten": options.tighten, "kube_version": options.kube_version,
                 "replicas": options.replicas, "zones": options.zones,
                 "spread": "required" if options.spread_required else "best-effort",
                 "socks_direct": options.socks_direct,
                 "ignore": [spec.rule for spec in options.ignore],
                 # only when set, so a full conversion's report is what it was before the option
                 **({"only": str(options.only)} if options.only is not OutputSet.ALL else {})},
    )


def render_report_markdown(report: Report, config_path: Path) -> str:
    """``report.md``: the same findings as a Markdown table for a PR or a ticket."""
    from tinysquid.diagnostics import render

    return render.to_markdown(report, title=_markdown_title(config_path))


def _iter_report_markdown(report: Report, config_path: Path) -> Iterator[bytes]:
    from tinysquid.diagnostics import render

    return (piece.encode("utf-8") for piece in render.iter_markdown(report, title=_markdown_title(config_path)))


def _markdown_title(config_path: Path) -> str:
    return f"Translation report for `{config_path}` ({GENERATED_BY})"


__all__ = [
    "GENERATED_BY",
    "REPORT_SCHEMA_VERSION",
    "ChartVersion",
    "ConvertOptions",
    "ConvertResult",
    "OutputSet",
    "SquidVersion",
    "TinyproxyVersion",
    "apply_ignore",
    "convert_file",
    "emit",
    "render_report_json",
    "render_report_markdown",
    "settle_line_statuses",
    "write_outputs",
]
