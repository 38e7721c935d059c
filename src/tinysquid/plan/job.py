"""The in-cluster verify Job: ``tinysquid verify`` run where the new squid's ClusterIP Service and
the real clients are, against that Service and the old proxy (its NLB).

plan-cutover writes it into the runbook (phase 2) and its JSON; ``verify --print-job`` prints it,
with a ConfigMap holding the run's input files, for ``kubectl apply -f -``. The container image is
the repository's Dockerfile (non-root, uid 10001). verify's JSON document is the Job's log (stdout);
its diagnostics go to the termination message (``kubectl describe pod``), so
``kubectl logs job/tinysquid-verify > verify.json`` is the document as ``-o json`` prints it. The
Job completes only when verify exits 0 (``backoffLimit: 0``: a widened probe is never retried away).

Input files sit in the ConfigMap ``tinysquid-verify-inputs`` under fixed keys and are mounted
read-only under ``/inputs``; an absolute Filter path of the config is mounted where ``--root
/inputs/root`` finds it, a relative one beside the config. Credentials are never in the manifest:
``--old-auth``/``--new-auth`` become ``env:`` references to the Secret ``tinysquid-verify-auth``.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tinysquid.diagnostics import InputError
from tinysquid.diagnostics.model import make

JOB_NAME = "tinysquid-verify"
INPUTS = "tinysquid-verify-inputs"  # the ConfigMap of input files
AUTH_SECRET = "tinysquid-verify-auth"  # keys `old` and `new`: USER:PASS
MOUNT = "/inputs"
UID = 10001  # the Dockerfile's USER
CONFIGMAP_LIMIT = 1024 * 1024  # bytes of data a ConfigMap may hold (etcd's object limit)
LABELS = {"app.kubernetes.io/name": JOB_NAME, "app.kubernetes.io/part-of": "tinysquid"}


@dataclass(frozen=True, slots=True)
class JobFile:
    """One input file: its ConfigMap key, where it sits under ``/inputs``, and the local file."""

    key: str
    mount_path: str  # relative to MOUNT
    local: Path | None = None  # None: the runbook's `kubectl create configmap` names it


@dataclass
class JobPlan:
    """A verify run as a Job: the verify arguments (file flags already pointing into ``/inputs``)."""

    namespace: str
    image: str
    args: list[str]
    files: list[JobFile] = field(default_factory=list)
    deadline: float = 300.0
    auth: tuple[str, ...] = ()  # "old" / "new": the Secret keys the run reads

    def container_args(self) -> list[str]:
        """Everything after ``tinysquid verify`` in the container."""
        return [*self.args, "-o", "json"]


def plan_job(*, namespace: str, image: str, old: Sequence[str], new: str, config: Path | None = None,
             filter_name: str | None = None, filter_local: Path | None = None, expect: Path | None = None,
             from_log: Sequence[Path] = (), targets: Sequence[Path] = (), old_auth: bool = False,
             new_auth: bool = False, options: Sequence[str] = (), deadline: float = 300.0,
             config_required: bool = False) -> JobPlan:
    """The Job for ``verify --old … --new …`` with these inputs. ``filter_name`` is the config's
    Filter path as written (absolute or relative to the config), ``filter_local`` the file read here.
    ``config_required``: the Job probes from a tinyproxy.conf even when none is known here (the
    runbook's command then names a placeholder to fill in)."""
    args: list[str] = []
    for o in old:
        args += ["--old", o]
    args += ["--new", new]
    files: list[JobFile] = []
    if config is not None or config_required:
        files.append(JobFile("tinyproxy.conf", "tinyproxy.conf", config))
        args += ["--config", f"{MOUNT}/tinyproxy.conf"]
        if filter_name:
            files.append(JobFile("filter", _filter_mount(filter_name), filter_local))
            if filter_name.startswith("/"):
                args += ["--root", f"{MOUNT}/root"]
    if expect is not None:
        files.append(JobFile("expect.json", "expect.json", expect))
        args += ["--expect", f"{MOUNT}/expect.json"]
    for flag, paths, stem in (("--from-log", from_log, "log"), ("--targets", targets, "targets")):
        for i, p in enumerate(paths, start=1):
            files.append(JobFile(f"{stem}-{i}", f"{stem}-{i}", p))
            args += [flag, f"{MOUNT}/{stem}-{i}"]
    auth: list[str] = []
    if old_auth:
        args += ["--old-auth", "env:OLD_PROXY_AUTH"]
        auth.append("old")
    if new_auth:
        args += ["--new-auth", "env:NEW_PROXY_AUTH"]
        auth.append("new")
    args += [*options, "--deadline", f"{deadline:g}"]
    return JobPlan(namespace, image, args, files, deadline, tuple(auth))


def filter_of(config: Path, *, root: Path | None = None, tinyproxy_version: str = "1.11") -> tuple[str | None, Path | None]:
    """The config's Filter file: its name as written and the local file read for it (the front end's
    own lookup). ``(None, None)`` without a Filter entry to read."""
    from tinysquid.options import ConvertOptions, TinyproxyVersion
    from tinysquid.tinyproxy import load
    from tinysquid.tinyproxy.filters import find_filter

    loaded = load(config, ConvertOptions(tinyproxy_version=TinyproxyVersion(tinyproxy_version), root=root))
    dest = loaded.lowered.destinations
    origin = next((p.origin for p in dest.patterns if p.origin is not None), None) if dest else None
    if origin is None:
        return None, None
    return origin.path, find_filter(origin.path, config, root)


def _filter_mount(named: str) -> str:
    """Where the Filter file goes under /inputs: an absolute name under root/ (found by --root), a
    relative one beside the config. A name leaving /inputs ("..") is refused."""
    norm = posixpath.normpath(named)  # an absolute path cannot climb above / ("/../x" is "/x")
    norm = "root" + norm if norm.startswith("/") else norm
    if norm.startswith("..") or norm in (".", "root", "root/", "tinyproxy.conf", "expect.json"):
        raise InputError(make("TS712", f"Filter {named!r} cannot be mounted inside {MOUNT}", source="plan.job",
                              subject=named))
    return norm


def job_manifest(job: JobPlan, *, version: str) -> dict[str, Any]:
    """The batch/v1 Job."""
    labels = {**LABELS, "app.kubernetes.io/version": version}
    env: list[dict[str, Any]] = [{"name": "HOME", "value": "/tmp"}]
    for who in job.auth:
        env.append({"name": f"{who.upper()}_PROXY_AUTH",
                    "valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": who}}})
    container: dict[str, Any] = {
        "name": "verify",
        "image": job.image,
        "imagePullPolicy": "IfNotPresent",
        # stdout (the JSON document) is the log; stderr (diagnostics) the termination message
        "command": ["sh", "-c", 'exec tinysquid verify "$@" 2>/dev/termination-log', JOB_NAME],
        "args": job.container_args(),
        "env": env,
        "terminationMessagePolicy": "File",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
    if job.files:
        container["volumeMounts"].insert(0, {"name": "inputs", "mountPath": MOUNT, "readOnly": True})
        volumes.insert(0, {"name": "inputs", "configMap": {
            "name": INPUTS, "items": [{"key": f.key, "path": f.mount_path} for f in job.files]}})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": JOB_NAME, "namespace": job.namespace, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": int(job.deadline) + 120,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID,
                                        "fsGroup": UID, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def inputs_configmap(job: JobPlan, *, version: str) -> dict[str, Any]:
    """The ConfigMap of the input files, read now (text as ``data``, other bytes as ``binaryData``).
    Over the 1 MiB an object may hold: TS713 (give the run fewer or smaller files)."""
    data: dict[str, str] = {}
    binary: dict[str, str] = {}
    size = 0
    for f in job.files:
        if f.local is None:
            raise InputError(make("TS714", f"input {f.key!r} has no local file to put in the ConfigMap",
                                  source="plan.job", subject=f.key))
        try:
            raw = f.local.read_bytes()
        except OSError as exc:
            raise InputError(make("TS001", f"cannot read {f.local}: {exc.strerror or exc}", source="plan.job",
                                  subject=str(f.local))) from None
        size += len(raw)
        try:
            data[f.key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            binary[f.key] = base64.b64encode(raw).decode("ascii")
    if size > CONFIGMAP_LIMIT:
        raise InputError(make("TS713", f"the Job's input files hold {size} bytes, over the {CONFIGMAP_LIMIT} a "
                              "ConfigMap may hold", source="plan.job", subject=INPUTS))
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": INPUTS, "namespace": job.namespace,
                                       "labels": {**LABELS, "app.kubernetes.io/version": version}}}
    if data:
        cm["data"] = data
    if binary:
        cm["binaryData"] = binary
    return cm


def create_inputs_command(job: JobPlan) -> str:
    """The ``kubectl`` line that makes the inputs ConfigMap from local files (runbook form)."""
    import shlex

    froms = " ".join("--from-file=" + shlex.quote(f"{f.key}={f.local or f'<path of {f.key}>'}") for f in job.files)
    return (f"kubectl create configmap {INPUTS} -n {shlex.quote(job.namespace)} {froms} "
            "--dry-run=client -o yaml | kubectl apply -f -")


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (the input files read as they are), no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and all(c == "\n" or c == "\t" or c.isprintable() for c in value) \
        and not any(line != line.rstrip(" ") for line in value.split("\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(docs: Sequence[dict[str, Any]]) -> str:
    """Multi-document YAML (keys in the order built)."""
    return "---\n".join(yaml.dump(d, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                                  allow_unicode=True) for d in docs)
