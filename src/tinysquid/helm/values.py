"""Policy + chart squid.conf → Helm values for the younsl ``squid`` chart (0.9.x, or 0.7.x on request).

Only keys the chosen chart version has are emitted (checked against :mod:`chart_keys`, also by the
tests). The values encode the migration's availability defaults: two replicas spread over zones,
a PDB, zone-local traffic, the metrics sidecar, and a grace period the chart's own check accepts
(``terminationGracePeriodSeconds`` ≥ ``squidShutdownTimeout`` + 10, else ``helm`` fails to render).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tinysquid.diagnostics import Report
from tinysquid.diagnostics.model import make
from tinysquid.helm.chart_keys import KEYS, unknown_keys
from tinysquid.policy import ir

IMAGE_REPOSITORY = "ubuntu/squid"
IMAGE_TAG = "6.13-25.04_beta"  # the chart's appVersion 6.13 image, pinned
DEFAULT_TARGET_PORT = 3128
SHUTDOWN_TIMEOUT = 30
GRACE_MARGIN = 10
EXPORTER_PORT = 9301


def target_port(listen_port: int) -> int:
    """The container port: the tinyproxy Port when it is unprivileged (> 1024), else 3128 (the chart
    runs squid as uid 13 with every capability dropped, so it cannot bind ≤ 1024)."""
    return listen_port if listen_port > 1024 else DEFAULT_TARGET_PORT


def parse_kube_version(text: str) -> tuple[int, int]:
    """``1.31``, ``v1.31`` or ``1.31.2`` (Helm's ``--kube-version`` forms) → (1, 31).

    Raises:
        ValueError: anything else.
    """
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a Kubernetes version like 1.31")
    return int(m.group(1)), int(m.group(2))


def traffic_distribution(kube_version: tuple[int, int] | None) -> str | None:
    """PreferSameZone from 1.34, PreferClose 1.31–1.33 (and when the version is unknown), else None."""
    if kube_version is None:
        return "PreferClose"
    if kube_version >= (1, 34):
        return "PreferSameZone"
    if kube_version >= (1, 31):
        return "PreferClose"
    return None


# squid allocates its per-descriptor tables for every descriptor at start: its virtual size grew by
# 576 bytes per descriptor on squid 5.7 (max_filedescriptors 1024 → 20000: VSZ 36,972 → 47,656 KiB).
FD_BYTES = 576
BASE_MEMORY_MIB = 64          # squid 5.7 idle RSS is ~24 MiB; the rest is headroom for traffic
CONFIG_MEMORY_FACTOR = 8      # parsed ACLs (trees, regexes) per byte of squid.conf, generous


def resources(max_fds: int, conf_bytes: int) -> tuple[dict[str, Any], dict[str, int]]:
    """The squid container's resources and how they were sized (MiB figures)."""
    fd_mib = -(-max(max_fds, 1024) * FD_BYTES // (1 << 20))
    conf_mib = -(-conf_bytes * CONFIG_MEMORY_FACTOR // (1 << 20))
    request = max(128, BASE_MEMORY_MIB + fd_mib + conf_mib)
    limit = 2 * request
    return ({"requests": {"cpu": "100m", "memory": f"{request}Mi"}, "limits": {"memory": f"{limit}Mi"}},
            {"base": BASE_MEMORY_MIB, "fd_tables": fd_mib, "config": conf_mib, "request": request,
             "limit": limit})


def render_values(policy: ir.Policy, chart_squid_conf: str, *, chart_version: str = "0.9",
                  report: Report, kube_version: tuple[int, int] | None = None, replicas: int = 2,
                  zones: int = 2, spread_required: bool = True) -> dict[str, Any]:
    """The values mapping for ``helm install squid oci://ghcr.io/younsl/charts/squid``.

    ``kube_version``: the cluster's (major, minor), None when not given. ``replicas``/``zones``:
    pod count and the zones they must cover (``spread_required``: DoNotSchedule + minDomains).

    Raises:
        ValueError: unknown ``chart_version``, or (a bug) a key the chart version does not have.
    """
    if replicas < 1 or zones < 1:
        raise ValueError("replicas and zones must be at least 1")
    if chart_version not in KEYS:
        raise ValueError(f"chart_version must be one of {sorted(KEYS)}, not {chart_version!r}")
    port = policy.listener.port
    tport = target_port(port)
    if tport != port:
        report.add(make("TS275", f"the Service listens on {port} and forwards to squid on {tport}",
                        source="convert", span=policy.listener.origin,
                        consequence="clients keep using port " + str(port)))
    listener = policy.listener
    for i, addr in enumerate(listener.addresses):  # one finding on each Listen line, not on Port's
        where = listener.address_origins[i] if i < len(listener.address_origins) else listener.origin
        report.add(make("TS274", f"Listen {addr} is not carried into the chart: the pod listens on every address",
                        source="convert", span=where))
    service: dict[str, Any] = {"type": "ClusterIP", "port": port, "targetPort": tport}
    distribution = traffic_distribution(kube_version)
    shown = "not given" if kube_version is None else f"{kube_version[0]}.{kube_version[1]}"
    if distribution is None:
        report.add(make("TS321", f"service.trafficDistribution is left out for Kubernetes {shown} "
                        "(the field needs 1.31)", source="convert", subject="service.trafficDistribution"))
    else:
        service["trafficDistribution"] = distribution
        why = ("--kube-version not given: PreferClose is valid from 1.31 and still accepted after its "
               "deprecation; pass --kube-version 1.34 (or later) for PreferSameZone"
               if kube_version is None else f"for Kubernetes {shown}")
        report.add(make("TS320", f"service.trafficDistribution: {distribution} ({why})", source="convert",
                        subject="service.trafficDistribution",
                        data={"trafficDistribution": distribution, "kube_version": shown}))
    spread: dict[str, Any] = {
        "maxSkew": 1,
        "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule" if spread_required else "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "squid"}},
        # only pods of this Deployment's own revision count: another release of the chart in the
        # namespace has other pod-template-hash values (the post-renderer adds the instance label too)
        "matchLabelKeys": ["pod-template-hash"],
    }
    if spread_required:
        spread["minDomains"] = zones
        report.add(make("TS322", f"{replicas} replicas spread over at least {zones} zones (maxSkew 1, "
                        f"whenUnsatisfiable DoNotSchedule, minDomains {zones})", source="convert",
                        subject="topologySpreadConstraints",
                        data={"replicas": replicas, "zones": zones}))
    else:
        report.add(make("TS323", f"{replicas} replicas spread over zones best-effort (ScheduleAnyway)",
                        source="convert", subject="topologySpreadConstraints"))
    if replicas < zones:
        report.add(make("TS324", f"--replicas {replicas} is fewer than --zones {zones}", source="convert",
                        subject="replicaCount"))
    res, sizing = resources(policy.hardening.max_filedescriptors, len(chart_squid_conf.encode("utf-8")))
    report.add(make("TS326", f"squid requests {sizing['request']}Mi memory (limit {sizing['limit']}Mi): "
                    f"{sizing['base']}Mi base + {sizing['fd_tables']}Mi for "
                    f"{max(policy.hardening.max_filedescriptors, 1024)} descriptors at {FD_BYTES} B + "
                    f"{sizing['config']}Mi for the ACLs", source="convert", subject="resources",
                    data=sizing))
    report.add(make("TS325", "podDisruptionBudget maxUnavailable: 1 (a drain can always evict one pod)",
                    source="convert", subject="podDisruptionBudget"))
    values: dict[str, Any] = {
        "image": {"repository": IMAGE_REPOSITORY, "tag": IMAGE_TAG, "pullPolicy": "IfNotPresent"},
        "replicaCount": replicas,
        "service": service,
        "topologySpreadConstraints": [spread],
        "resources": res,
        # minAvailable must be set to null: the chart's default (1) would win over maxUnavailable
        "podDisruptionBudget": {"enabled": True, "minAvailable": None, "maxUnavailable": 1},
        "squidShutdownTimeout": SHUTDOWN_TIMEOUT,
        "terminationGracePeriodSeconds": SHUTDOWN_TIMEOUT + 2 * GRACE_MARGIN,
        "squidExporter": {"enabled": True},
        "podAnnotations": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(EXPORTER_PORT),
            "prometheus.io/path": "/metrics",
        },
        "config": {"squid.conf": chart_squid_conf},
    }
    bad = unknown_keys(values, chart_version)
    if bad:
        raise ValueError(f"values keys not in squid chart {chart_version}: {bad}")
    return values


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line strings as literal blocks (``|``)."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)


# The chart release each supported line is installed at: the versions the chart keys and sizes were read from.
CHART_RELEASES = {"0.9": "0.9.0", "0.7": "0.7.0"}


def dump_values(values: dict[str, Any], chart_version: str = "0.9") -> str:
    """YAML text of ``values``: block style, keys in the given order, squid.conf as a literal block.

    The squid.conf block is written directly (PyYAML's pure-Python emitter scans a multi-megabyte
    scalar character by character: 9 s for a 100,000-entry allowlist); everything else goes through
    the dumper. Text a literal block cannot carry verbatim falls back to the dumper.
    """
    head = ("# Helm values for the younsl squid chart, generated by tinysquid.\n"
            f"# helm install squid oci://ghcr.io/younsl/charts/squid --version "
            f"{CHART_RELEASES.get(chart_version, chart_version)} -n squid --create-namespace -f values.yaml\n")
    config = values.get("config")
    conf_text = config.get("squid.conf") if isinstance(config, dict) else None
    if not isinstance(conf_text, str) or not _literal_safe(conf_text):
        return head + _dump(values)
    assert isinstance(config, dict)  # conf_text is a str only when config is a mapping
    rest = {k: v for k, v in values.items() if k != "config"}
    other_config = {k: v for k, v in config.items() if k != "squid.conf"}
    body = _dump(rest) if rest else ""
    block = ["config:\n"]
    if other_config:
        block.append(_indent(_dump(other_config), "  "))
    chomp = "-" if not conf_text.endswith("\n") else ("+" if conf_text.endswith("\n\n") else "")
    block.append(f"  squid.conf: |{chomp}\n")
    block.append(_indent(conf_text, "    "))
    if not conf_text.endswith("\n"):
        block.append("\n")
    return head + body + "".join(block)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True,
                     width=100_000)


_PRINTABLE = re.compile(r"[^\x09\x0A\x20-\x7E\xA0-\u2027\u202A-\uD7FF\uE000-\uFEFE\uFF00-\uFFFD]")


def _literal_safe(text: str) -> bool:
    """True when a ``|`` block reproduces ``text`` exactly: printable characters only (YAML also
    breaks lines at NEL, LS and PS, and strips a BOM), no line that
    starts with white space first (it would need an indentation indicator), no trailing blanks."""
    if not text.strip() or text[0] in " \t\n" or _PRINTABLE.search(text):
        return False
    return not any(line != line.rstrip(" \t") for line in text.split("\n"))


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line if line.strip() else line for line in text.splitlines(keepends=True))
