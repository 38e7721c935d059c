"""TS7xx: plan-cutover (pre-flight checks, risks, client discovery)."""

from tinysquid.diagnostics.codes._info import CodeInfo

CODES: tuple[CodeInfo, ...] = ()
