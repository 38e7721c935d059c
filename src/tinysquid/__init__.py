"""tinysquid: move a tinyproxy forward proxy to squid on Kubernetes, line by line, with evidence.

The public API (``__all__``; tests/unit/test_public_api.py pins it)::

    from pathlib import Path
    import tinysquid

    options = tinysquid.ConvertOptions(squid_version=tinysquid.SquidVersion.V6)
    result = tinysquid.convert_file(Path("tinyproxy.conf"), options)   # raises InputError on bad input
    for finding in result.report.diagnostics:   # tinysquid.Finding (= Diagnostic)
        print(finding.human())
    tinysquid.write_outputs(result, Path("out"))

Everything else is internal and may change. The names are imported on first use (PEP 562), so
``import tinysquid`` stays cheap and no module inside the package needs to import this façade
(``__version__`` comes from :mod:`tinysquid._version`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tinysquid._version import __version__

if TYPE_CHECKING:
    from tinysquid.convert import ConvertResult, convert_file, write_outputs
    from tinysquid.diagnostics.model import Diagnostic, InputError, Severity, Span, Status
    from tinysquid.diagnostics.model import Diagnostic as Finding
    from tinysquid.diagnostics.report import ExitCode, Report
    from tinysquid.options import ChartVersion, ConvertOptions, SquidVersion, TinyproxyVersion
    from tinysquid.policy.ir import Policy

# public name → (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {
    "ChartVersion": ("tinysquid.options", "ChartVersion"),
    "ConvertOptions": ("tinysquid.options", "ConvertOptions"),
    "ConvertResult": ("tinysquid.convert", "ConvertResult"),
    "Diagnostic": ("tinysquid.diagnostics.model", "Diagnostic"),
    "ExitCode": ("tinysquid.diagnostics.report", "ExitCode"),
    "Finding": ("tinysquid.diagnostics.model", "Diagnostic"),
    "InputError": ("tinysquid.diagnostics.model", "InputError"),
    "Policy": ("tinysquid.policy.ir", "Policy"),
    "Report": ("tinysquid.diagnostics.report", "Report"),
    "Severity": ("tinysquid.diagnostics.model", "Severity"),
    "Span": ("tinysquid.diagnostics.model", "Span"),
    "SquidVersion": ("tinysquid.options", "SquidVersion"),
    "Status": ("tinysquid.diagnostics.model", "Status"),
    "TinyproxyVersion": ("tinysquid.options", "TinyproxyVersion"),
    "convert_file": ("tinysquid.convert", "convert_file"),
    "write_outputs": ("tinysquid.convert", "write_outputs"),
}

__all__ = [
    "ChartVersion",
    "ConvertOptions",
    "ConvertResult",
    "Diagnostic",
    "ExitCode",
    "Finding",
    "InputError",
    "Policy",
    "Report",
    "Severity",
    "Span",
    "SquidVersion",
    "Status",
    "TinyproxyVersion",
    "__version__",
    "convert_file",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'tinysquid' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
