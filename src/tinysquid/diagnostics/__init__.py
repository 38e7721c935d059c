"""The one diagnostics layer every command shares: spans, coded findings, reports, exit codes.

Imports the standard library only (``render`` adds rich and yaml, lazily).
"""

from tinysquid.diagnostics.model import Diagnostic, InputError, Severity, Span, Status
from tinysquid.diagnostics.report import ExitCode, Report

__all__ = ["Diagnostic", "ExitCode", "InputError", "Report", "Severity", "Span", "Status"]
