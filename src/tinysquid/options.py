"""What a conversion targets and how: the stage enums and :class:`ConvertOptions`.

This module sits below every stage (it imports only the standard library), so the front end, the
passes, the back ends and the commands can all name an option without importing the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class SquidVersion(StrEnum):
    """Target squid major version (5 = Debian 12's 5.7, 6 = the chart image's 6.13, 7 = 7.x)."""

    V5 = "5"
    V6 = "6"
    V7 = "7"  # no cache_object:// scheme (manager pages only under /squid-internal-mgr/)


class ChartVersion(StrEnum):
    """Target version line of the younsl ``squid`` Helm chart."""

    V0_9 = "0.9"
    V0_7 = "0.7"


class TinyproxyVersion(StrEnum):
    """The tinyproxy grammar the input was written for."""

    V1_8 = "1.8"
    V1_10 = "1.10"
    V1_11 = "1.11"


class OutputSet(StrEnum):
    """What ``convert`` builds: everything, or squid.conf and the reports without the chart's files
    (``convert --only squid.conf``)."""

    ALL = "all"
    SQUID_CONF = "squid-conf"  # squid.conf, htpasswd, report.json/md, expect.json; no Helm or deploy files


@dataclass(frozen=True, slots=True)
class IgnoreSpec:
    """One reviewed-findings rule as written: ``rule`` is ``CODE[:FILE[:LINE]]``; ``path``/``line``
    say where (the project config), both None for ``--ignore``. Checked and applied by
    ``tinysquid.diagnostics.ignore``; read from the project config by ``tinysquid.project``."""

    rule: str
    path: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Everything that changes what ``convert`` produces.

    ``root``: absolute paths in the config (Filter files) are looked up under this directory.
    ``harden``: add the deliberate narrowing (metadata range, manager, fd cap), each reported.
    ``tighten``: emit anchored versions of unanchored legacy patterns (marked approximated).
    ``kube_version``: the cluster's Kubernetes ``X.Y`` (picks trafficDistribution), None = unknown.
    ``replicas``/``zones``/``spread_required``: availability as the values and spread constraint say.
    ``ignore``: reviewed findings, marked ignored in the report and not counted by ``--strict``.
    ``only``: ``SQUID_CONF`` writes no values.yaml, post-renderer/ or argocd/ and skips the chart's
    size check (TS340), for a squid run outside the chart or a filter too large for a ConfigMap.
    """

    squid_version: SquidVersion = SquidVersion.V6
    chart_version: ChartVersion = ChartVersion.V0_9
    tinyproxy_version: TinyproxyVersion = TinyproxyVersion.V1_11
    root: Path | None = None
    harden: bool = True
    tighten: bool = False
    kube_version: str | None = None
    replicas: int = 2
    zones: int = 2
    spread_required: bool = True
    socks_direct: bool = False  # SOCKS upstream routes connect directly instead of failing (TS290)
    ignore: tuple[IgnoreSpec, ...] = ()
    only: OutputSet = OutputSet.ALL


__all__ = ["ChartVersion", "ConvertOptions", "IgnoreSpec", "OutputSet", "SquidVersion", "TinyproxyVersion"]
