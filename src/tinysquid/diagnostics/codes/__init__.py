"""The code registry: every TSnnn is defined once, in the module of the stage that raises it.

Ranges: 0xx input & lexing · 1xx tinyproxy grammar/semantics · 2xx translation (TS200 = exact) ·
3xx hardening · 4xx legacy holes · 5xx verify · 6xx inventory · 7xx plan · 9xx internal (our own
output failed a check). ``docs/codes.md`` is generated from this registry.
"""

from __future__ import annotations

from tinysquid.diagnostics.codes import convert as _convert
from tinysquid.diagnostics.codes import helm as _helm
from tinysquid.diagnostics.codes import input as _input
from tinysquid.diagnostics.codes import internal as _internal
from tinysquid.diagnostics.codes import inventory as _inventory
from tinysquid.diagnostics.codes import plan as _plan
from tinysquid.diagnostics.codes import proof as _proof
from tinysquid.diagnostics.codes import squid as _squid
from tinysquid.diagnostics.codes import tinyproxy as _tinyproxy
from tinysquid.diagnostics.codes import verify as _verify
from tinysquid.diagnostics.codes._info import CodeInfo

_ALL: tuple[CodeInfo, ...] = (
    *_input.CODES,
    *_convert.CODES,
    *_tinyproxy.CODES,
    *_squid.CODES,
    *_helm.CODES,
    *_verify.CODES,
    *_inventory.CODES,
    *_plan.CODES,
    *_proof.CODES,
    *_internal.CODES,
)

CODES: dict[str, CodeInfo] = {}
for _info in _ALL:
    if _info.code in CODES:
        raise RuntimeError(f"duplicate diagnostic code {_info.code}")
    CODES[_info.code] = _info

BY_NAME: dict[str, CodeInfo] = {info.name: info for info in _ALL}

__all__ = ["BY_NAME", "CODES", "CodeInfo"]
