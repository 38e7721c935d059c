"""Kubernetes size limits for what the chart installs: the squid.conf ConfigMap and Helm's release Secret.

The API server refuses a ConfigMap whose data values sum to more than 1 MiB (``totalSize`` over
``Data`` and ``BinaryData`` against ``MaxSecretSize`` = 1,048,576 bytes in
``pkg/apis/core/validation``), and a Secret likewise. Helm 3 and 4 keep each release in a Secret
whose ``release`` key is ``base64(gzip(json(release)))`` (``pkg/storage/driver/util.go``:
``gzip.BestCompression``); the release holds the chart (templates and files base64-encoded in the
JSON), the user values (with squid.conf) and the rendered manifest (with squid.conf again).

The release size is an estimate: each part is compressed on its own (deflate's 32 KiB window
cannot match one squid.conf copy against the other anyway), the chart's own share is a constant
measured on the real chart, and 5% is added for Go's deflate compressing slightly worse than
zlib at level 9. ``estimate_release_bytes`` is tested against a release JSON built from the real
chart when one is available.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from dataclasses import dataclass
from typing import Any

LIMIT = 1 << 20           # 1 MiB: MaxSecretSize, also the ConfigMap limit
WARN_RATIO = 0.8

# gzip -9 size of the chart part of the release JSON (metadata, templates, files, default values)
# measured on the younsl chart trees 0.7.0 (20,390 B) and 0.9.0 (25,917 B), rounded up, plus ~2 KB
# for the rest of the rendered manifest (Deployment, Services, PDB, ServiceAccount).
CHART_OVERHEAD_GZ = {"0.7": 24_000, "0.9": 30_000}
GO_DEFLATE_MARGIN = 1.05

_TPL = re.compile(r"\{\{\s*\.Values\.([A-Za-z0-9_.]+)\s*\}\}")


@dataclass(frozen=True, slots=True)
class Sizes:
    """Bytes of the ConfigMap's data and of the release Secret's data (estimated)."""

    configmap: int
    release: int

    def over(self) -> list[tuple[str, int]]:
        return [(name, n) for name, n in self.items() if n > LIMIT]

    def near(self) -> list[tuple[str, int]]:
        return [(name, n) for name, n in self.items() if WARN_RATIO * LIMIT <= n <= LIMIT]

    def items(self) -> list[tuple[str, int]]:
        return [("ConfigMap <release>-squid-conf", self.configmap),
                ("Helm release Secret sh.helm.release.v1.<release>.v<N>", self.release)]


def rendered_conf(chart_conf: str, values: dict[str, Any]) -> str:
    """squid.conf as the chart's ``tpl`` renders it (the value references and ``{{"{{"}}`` escapes)."""
    def value(m: re.Match[str]) -> str:
        node: Any = values
        for part in m.group(1).split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return m.group(0) if node is None else str(node)

    return _TPL.sub(value, chart_conf.replace('{{"{{"}}', "{{"))


def _go_json_string(text: str) -> bytes:
    # Go's encoding/json escapes <, > and & as \u003c … and keeps other non-ASCII as UTF-8
    return json.dumps(text, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("&", "\\u0026").encode("utf-8")


def estimate_release_bytes(values: dict[str, Any], conf: str, chart_version: str,
                           chart_overhead_gz: int | None = None) -> int:
    """Estimated bytes of the release Secret's ``release`` value (base64 of the gzipped JSON)."""
    overhead = CHART_OVERHEAD_GZ[chart_version] if chart_overhead_gz is None else chart_overhead_gz
    config_json = json.dumps(values, ensure_ascii=False).encode("utf-8")
    gz = overhead + len(gzip.compress(config_json, 9)) + len(gzip.compress(_go_json_string(conf), 9))
    gz = int(gz * GO_DEFLATE_MARGIN)
    return 4 * -(-gz // 3)


def measure(values: dict[str, Any], chart_conf: str, chart_version: str) -> Sizes:
    conf = rendered_conf(chart_conf, values)
    # the chart's template writes the key's value with one trailing newline after nindent
    configmap = len(conf.encode("utf-8"))
    return Sizes(configmap=configmap, release=estimate_release_bytes(values, conf, chart_version))


def chart_release_json(chart_dir: str, values: dict[str, Any], manifest: str) -> bytes:
    """A release JSON shaped as Helm writes it, from a real chart directory (for tests and preflight)."""
    import os

    import yaml

    templates, files = [], []
    for dirpath, _, names in sorted(os.walk(chart_dir)):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, chart_dir)
            with open(path, "rb") as fh:
                data = base64.b64encode(fh.read()).decode()
            if rel.startswith("templates/"):
                templates.append({"name": rel, "data": data})
            elif rel not in ("Chart.yaml", "values.yaml", ".helmignore"):
                files.append({"name": rel, "data": data})
    with open(os.path.join(chart_dir, "Chart.yaml"), encoding="utf-8") as fh:
        metadata = yaml.safe_load(fh)
    with open(os.path.join(chart_dir, "values.yaml"), encoding="utf-8") as fh:
        defaults = yaml.safe_load(fh)
    release = {
        "name": "squid", "info": {"status": "deployed", "description": "Install complete"},
        "chart": {"metadata": metadata, "lock": None, "templates": templates, "values": defaults,
                  "schema": None, "files": files},
        "config": values, "manifest": manifest, "version": 1, "namespace": "squid",
    }
    return json.dumps(release, ensure_ascii=False).encode("utf-8")


def release_secret_bytes(release_json: bytes) -> int:
    """The exact size Helm's encoding gives ``release_json`` (modulo Go's vs zlib's deflate)."""
    return len(base64.b64encode(gzip.compress(release_json, 9)))


def check(values: dict[str, Any], chart_conf: str, chart_version: str, report: Any) -> Sizes:
    """Measure, report the sizes (TS342), warn at ≥ 80% (TS341); over 1 MiB raise (TS340, exit 2).

    Raises:
        InputError: an object would be larger than Kubernetes accepts.
    """
    from tinysquid.diagnostics import InputError
    from tinysquid.diagnostics.model import make

    sizes = measure(values, chart_conf, chart_version)
    shown = "; ".join(f"{name}: {n:,} B ({100 * n / LIMIT:.0f}% of 1 MiB)" for name, n in sizes.items())
    data = {"configmap_bytes": sizes.configmap, "release_secret_bytes_estimate": sizes.release,
            "limit_bytes": LIMIT}
    over = sizes.over()
    if over:
        names = ", ".join(f"{name} ({n:,} B)" for name, n in over)
        raise InputError(make(
            "TS340", f"{names} would exceed Kubernetes' 1 MiB ({LIMIT:,} B) object size limit; nothing "
                     "was written", source="convert", subject="config.squid.conf",
            consequence="the API server refuses the object and helm install fails", data=data))
    report.add(make("TS342", f"sizes: {shown} (release Secret estimated: base64(gzip(release JSON)))",
                    source="convert", subject="config.squid.conf", data=data))
    for name, n in sizes.near():
        report.add(make("TS341", f"{name} is {n:,} B, {100 * n / LIMIT:.0f}% of Kubernetes' 1 MiB limit",
                        source="convert", subject="config.squid.conf", data=data))
    return sizes
