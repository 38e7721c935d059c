"""What the runbook needs from the legacy tinyproxy.conf and convert's findings about it.

The Policy comes from ``tinysquid.tinyproxy.load`` (the one front end convert and verify use too).
The Port, Timeout and filter domains are read from its effective Policy; convert's non-exact findings
(front end, passes and back ends) come from ``convert.emit`` of that same loaded config, so the file
is parsed once. A convert ``report.json`` (written next to values.yaml) stands in when the
config itself is not given.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tinysquid.documents import Kind
from tinysquid.plan.inputs import Inputs, ProxyFacts, load_document

# A filter pattern that is a plain host name once anchors, escapes and the usual "any subdomain"
# prefixes are taken off (tinyproxy filters are POSIX regexes by default; research notes §2).
_PREFIXES = (r"(.*\.)?", r"(^|\.)", r".*\.", r"(.+\.)?", r"\.", "*.", ".")
_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def domain_of_pattern(pattern: str) -> str | None:
    """The host name a filter pattern names, or None when it is not a plain domain pattern."""
    text = pattern.strip().lower()
    text = text.removeprefix("^").removesuffix("$")
    for prefix in _PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    text = text.replace(r"\.", ".").removesuffix(":443").removesuffix(".")
    return text if _HOST_RE.match(text) else None


_ALTERNATION_RE = re.compile(r"^\^?\(([a-z0-9|-]+)\)((?:\\\.[a-z0-9-]+)+)\$?$")


def domains_of_pattern(pattern: str) -> list[str]:
    r"""Like :func:`domain_of_pattern`, also expanding one leading alternation of labels
    (``^(api|uploads)\.github\.com$`` → ``api.github.com``, ``uploads.github.com``)."""
    m = _ALTERNATION_RE.match(pattern.strip().lower())
    if m:
        names = [domain_of_pattern(f"{label}{m.group(2)}") for label in m.group(1).split("|")]
        return [n for n in names if n]
    name = domain_of_pattern(pattern)
    return [name] if name else []


def facts_from_policy(policy: Any) -> ProxyFacts:
    """Port, idle Timeout and filter domains from a :class:`tinysquid.policy.ir.Policy`."""
    domains: list[tuple[str, str]] = []
    dest = policy.destinations
    allowlist = None
    if dest is not None:
        allowlist = str(dest.default) == "deny"
        for pat in dest.patterns:
            names = [pat.domain.name] if pat.domain is not None else domains_of_pattern(pat.source_text)
            where = str(pat.origin).rsplit(":", 1)[0] if pat.origin else "filter"
            domains.extend((name.lower().rstrip("."), where) for name in names)
    limits = policy.limits
    timeout_line = str(limits.timeout_origin).rsplit(":", 1)[0] if limits.timeout_origin else None
    return ProxyFacts(port=policy.listener.port, timeout=limits.idle_timeout, timeout_line=timeout_line,
                      domains=tuple(dict.fromkeys(domains)), filter_is_allowlist=allowlist)


def load_config(path: Path, inputs: Inputs) -> None:
    """Load ``path`` and print it in memory (nothing is written); record its facts, its non-exact findings and its hash.

    The project config's reviewed findings (``tinysquid.toml``, as ``convert`` reads it from the
    current folder up) are marked ignored, as they are in the report.json convert writes.

    Raises:
        InputError: the config is something tinyproxy would refuse (from the front end), or the
            project config is invalid (TS024/TS025).
    """
    from tinysquid import convert, project, tinyproxy
    from tinysquid.plan.inputs import InputFile, read_bytes, sha256

    data = read_bytes(path, "tinyproxy config")
    inputs.files.append(InputFile("tinyproxy-config", str(path), sha256(data)))
    inputs.config_path = str(path)
    loaded = tinyproxy.load(Path(path))
    inputs.proxy = facts_from_policy(loaded.policy)
    result = convert.emit(loaded, convert.ConvertOptions(ignore=project.load().ignore))
    inputs.convert_findings = [d.to_record() for d in result.report.not_exact()]
    inputs.convert_source = f"convert of {path}"


def load_convert_report(path: Path, inputs: Inputs) -> None:
    """Read a convert ``report.json`` (a ``ConvertReport``): its findings whose status is not ``exact``."""
    doc = load_document(path, "convert report", Kind.CONVERT_REPORT, inputs)
    inputs.convert_findings = [f for f in doc["findings"] if f.get("status") not in (None, "exact")]
    inputs.convert_source = str(path)
