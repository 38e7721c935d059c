"""The value keys of the younsl ``squid`` Helm chart, per supported chart version, as data.

Read from the chart's own ``charts/squid/values.yaml`` (younsl/charts): 0.9.0 at commit 7a9a2e4
(0.9.1 in younsl/o has the same keys). 0.7.x: the 0.8.0 file (commit 56180d0; the history before it
was squashed) minus ``serviceAccount.imagePullSecrets``, which 0.8.0 added; 0.7.0 itself introduced
``resizePolicy`` and ``squidExporter.resizePolicy`` and is otherwise the same schema (research notes,
squid-and-chart.md §1.5). Plus keys the templates read that values.yaml only mentions in comments
(``podDisruptionBudget.maxUnavailable``, ``autoscaling.targetMemoryUtilizationPercentage``).

A key path is dotted; a component containing a dot is double-quoted (``config."squid.conf"``).
Children of an OPEN key (labels, annotations, resources, affinity …) are free-form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

_TEMPLATE_ONLY = ("podDisruptionBudget.maxUnavailable", "autoscaling.targetMemoryUtilizationPercentage")

_V0_9 = (
    'affinity', 'annotations', 'autoscaling.annotations', 'autoscaling.behavior.scaleDown.policies',
    'autoscaling.behavior.scaleDown.selectPolicy',
    'autoscaling.behavior.scaleDown.stabilizationWindowSeconds', 'autoscaling.enabled',
    'autoscaling.maxReplicas', 'autoscaling.minReplicas', 'autoscaling.targetCPUUtilizationPercentage',
    'commonAnnotations.description', 'commonLabels', 'config."squid.conf"', 'config.allowedNetworks.extra',
    'config.annotations', 'dashboard.annotations', 'dashboard.enabled', 'dashboard.grafanaNamespace',
    'dnsConfig', 'dnsPolicy', 'env', 'envFrom', 'extraManifests', 'fullnameOverride',
    'httpRoute.annotations', 'httpRoute.enabled', 'httpRoute.hostnames', 'httpRoute.parentRefs',
    'httpRoute.rules', 'image.pullPolicy', 'image.repository', 'image.tag', 'imagePullSecrets',
    'ingress.annotations', 'ingress.className', 'ingress.enabled', 'ingress.hosts', 'ingress.tls',
    'livenessProbe.enabled', 'livenessProbe.failureThreshold', 'livenessProbe.initialDelaySeconds',
    'livenessProbe.periodSeconds', 'livenessProbe.successThreshold', 'livenessProbe.timeoutSeconds',
    'nameOverride', 'nodeSelector', 'persistence.accessMode', 'persistence.annotations',
    'persistence.enabled', 'persistence.size', 'persistence.storageClassName', 'persistence.volumeName',
    'podAnnotations', 'podDisruptionBudget.annotations', 'podDisruptionBudget.enabled',
    'podDisruptionBudget.minAvailable', 'podDisruptionBudget.unhealthyPodEvictionPolicy',
    'podSecurityContext.fsGroup', 'readinessProbe.enabled', 'readinessProbe.failureThreshold',
    'readinessProbe.initialDelaySeconds', 'readinessProbe.periodSeconds', 'readinessProbe.successThreshold',
    'readinessProbe.timeoutSeconds', 'replicaCount', 'resizePolicy', 'resources.limits.memory',
    'resources.requests.cpu', 'resources.requests.memory', 'revisionHistoryLimit',
    'securityContext.capabilities.drop', 'securityContext.readOnlyRootFilesystem',
    'securityContext.runAsGroup', 'securityContext.runAsNonRoot', 'securityContext.runAsUser',
    'service.annotations', 'service.externalTrafficPolicy', 'service.loadBalancerIP',
    'service.loadBalancerSourceRanges', 'service.nodePort', 'service.port', 'service.targetPort',
    'service.trafficDistribution', 'service.type', 'serviceAccount.annotations',
    'serviceAccount.automountServiceAccountToken', 'serviceAccount.create',
    'serviceAccount.imagePullSecrets', 'serviceAccount.name', 'squidExporter.customLabels',
    'squidExporter.enabled', 'squidExporter.extractServiceTimes', 'squidExporter.image.pullPolicy',
    'squidExporter.image.repository', 'squidExporter.image.tag', 'squidExporter.metricsPath',
    'squidExporter.port', 'squidExporter.resizePolicy', 'squidExporter.resources.limits.memory',
    'squidExporter.resources.requests.cpu', 'squidExporter.resources.requests.memory',
    'squidExporter.squidHostname', 'squidExporter.squidLogin', 'squidExporter.squidPassword',
    'squidExporter.squidPort', 'squidShutdownTimeout', 'strategy.rollingUpdate.maxSurge',
    'strategy.rollingUpdate.maxUnavailable', 'strategy.type', 'terminationGracePeriodSeconds',
    'tolerations', 'topologySpreadConstraints',
)

_V0_7 = (
    'affinity', 'annotations', 'autoscaling.annotations', 'autoscaling.behavior.scaleDown.policies',
    'autoscaling.behavior.scaleDown.selectPolicy',
    'autoscaling.behavior.scaleDown.stabilizationWindowSeconds', 'autoscaling.enabled',
    'autoscaling.maxReplicas', 'autoscaling.minReplicas', 'autoscaling.targetCPUUtilizationPercentage',
    'commonAnnotations.description', 'commonLabels', 'config."squid.conf"', 'config.allowedNetworks.extra',
    'config.annotations', 'dashboard.annotations', 'dashboard.enabled', 'dashboard.grafanaNamespace',
    'dnsConfig', 'dnsPolicy', 'env', 'envFrom', 'extraManifests', 'fullnameOverride', 'image.pullPolicy',
    'image.repository', 'image.tag', 'imagePullSecrets', 'ingress.annotations', 'ingress.className',
    'ingress.enabled', 'ingress.hosts', 'ingress.tls', 'livenessProbe.enabled',
    'livenessProbe.failureThreshold', 'livenessProbe.initialDelaySeconds', 'livenessProbe.periodSeconds',
    'livenessProbe.successThreshold', 'livenessProbe.timeoutSeconds', 'nameOverride', 'nodeSelector',
    'persistence.accessMode', 'persistence.annotations', 'persistence.enabled', 'persistence.size',
    'persistence.storageClassName', 'persistence.volumeName', 'podAnnotations',
    'podDisruptionBudget.annotations', 'podDisruptionBudget.enabled', 'podDisruptionBudget.minAvailable',
    'podDisruptionBudget.unhealthyPodEvictionPolicy', 'podSecurityContext.fsGroup',
    'readinessProbe.enabled', 'readinessProbe.failureThreshold', 'readinessProbe.initialDelaySeconds',
    'readinessProbe.periodSeconds', 'readinessProbe.successThreshold', 'readinessProbe.timeoutSeconds',
    'replicaCount', 'resizePolicy', 'resources.limits.memory', 'resources.requests.cpu',
    'resources.requests.memory', 'revisionHistoryLimit', 'securityContext.capabilities.drop',
    'securityContext.readOnlyRootFilesystem', 'securityContext.runAsGroup', 'securityContext.runAsNonRoot',
    'securityContext.runAsUser', 'service.annotations', 'service.externalTrafficPolicy',
    'service.loadBalancerIP', 'service.loadBalancerSourceRanges', 'service.nodePort', 'service.port',
    'service.targetPort', 'service.trafficDistribution', 'service.type', 'serviceAccount.annotations',
    'serviceAccount.automountServiceAccountToken', 'serviceAccount.create', 'serviceAccount.name',
    'squidExporter.customLabels', 'squidExporter.enabled', 'squidExporter.extractServiceTimes',
    'squidExporter.image.pullPolicy', 'squidExporter.image.repository', 'squidExporter.image.tag',
    'squidExporter.metricsPath', 'squidExporter.port', 'squidExporter.resizePolicy',
    'squidExporter.resources.limits.memory', 'squidExporter.resources.requests.cpu',
    'squidExporter.resources.requests.memory', 'squidExporter.squidHostname', 'squidExporter.squidLogin',
    'squidExporter.squidPassword', 'squidExporter.squidPort', 'squidShutdownTimeout',
    'strategy.rollingUpdate.maxSurge', 'strategy.rollingUpdate.maxUnavailable', 'strategy.type',
    'terminationGracePeriodSeconds', 'tolerations', 'topologySpreadConstraints',
)

KEYS: dict[str, frozenset[str]] = {
    "0.9": frozenset(_V0_9 + _TEMPLATE_ONLY),
    "0.7": frozenset(_V0_7 + _TEMPLATE_ONLY),
}

OPEN: frozenset[str] = frozenset({
    "affinity", "annotations", "commonAnnotations", "commonLabels", "dnsConfig", "nodeSelector",
    "podAnnotations", "podSecurityContext", "resources", "securityContext", "strategy",
    "autoscaling.annotations", "autoscaling.behavior", "config.annotations", "dashboard.annotations",
    "httpRoute.annotations", "ingress.annotations", "persistence.annotations",
    "podDisruptionBudget.annotations", "service.annotations", "serviceAccount.annotations",
    "squidExporter.customLabels", "squidExporter.resources",
})


def path_text(parts: tuple[str, ...]) -> str:
    """``("config", "squid.conf")`` → ``config."squid.conf"``."""
    return ".".join(f'"{p}"' if "." in p else p for p in parts)


def leaf_paths(values: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path of ``values`` down to a non-mapping value or an empty mapping."""
    for key, value in values.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from leaf_paths(value, path)
        else:
            yield path


def unknown_keys(values: Mapping[str, Any], chart_version: str) -> list[str]:
    """Key paths of ``values`` that chart ``chart_version`` does not have (empty = all known)."""
    known = KEYS[chart_version]
    bad = []
    for parts in leaf_paths(values):
        prefixes = [path_text(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(p in OPEN for p in prefixes[:-1]) or prefixes[-1] in known:
            continue
        bad.append(prefixes[-1])
    return bad
