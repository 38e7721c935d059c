"""TS6xx: inventory-aws (permission gaps, missing credentials, pricing assumptions)."""

from tinysquid.diagnostics.codes._info import CodeInfo

CODES: tuple[CodeInfo, ...] = ()
