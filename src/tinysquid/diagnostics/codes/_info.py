"""CodeInfo: what one diagnostic code means, why it matters and what to do."""

from __future__ import annotations

from dataclasses import dataclass

from tinysquid.diagnostics.enums import Severity, Status


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One registry entry. ``what``/``why``/``fix`` feed ``docs/codes.md`` and default hints."""

    code: str
    name: str
    severity: Severity
    what: str
    why: str
    fix: str | None = None
    status: Status | None = None
