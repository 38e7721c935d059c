"""TS5xx: verify (probe sources, probe results, run problems)."""

from tinysquid.diagnostics.codes._info import CodeInfo

CODES: tuple[CodeInfo, ...] = ()
