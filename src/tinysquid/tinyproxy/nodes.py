"""The typed, source-located model of a parsed tinyproxy.conf: one :class:`Stmt` per directive line.

A Stmt holds the directive's canonical name (as spelt in :mod:`directives`), where it was written,
and its arguments already converted the way tinyproxy's handler converts them (``strtoul`` base 0
for INT, ``get_bool_arg`` for BOOL). Passwords are :class:`~tinysquid.policy.ir.Secret` from here on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinysquid.diagnostics.model import Span


@dataclass(frozen=True, slots=True)
class Stmt:
    """One directive line; ``arg_col`` is the 1-based column where the argument text starts.

    ``args`` by grammar kind (``Directive.kind``):

    ========================  ===========================================================
    STR, ALNUM, LOGLEVEL,     ``(text,)``
    FILTERTYPE, ADDR, ACL
    BOOL                      ``(bool,)`` (``get_bool_arg``: y… or ?n… is true)
    INT                       ``(value, text)``: value by ``strtoul(text, 0)`` (octal, 1.8 hex)
    ALNUM ALNUM (BasicAuth)   ``(user, Secret(password))``
    INT STR                   ``(value, text)``
    STR STR, STR [STR]        ``(first, second or None)``
    UPSTREAM, NO UPSTREAM     ``(UpstreamArgs,)``
    ========================  ===========================================================

    One class for every directive keeps the 40-row directive table the single place where a
    directive's grammar is declared; :mod:`lower` interprets ``args`` per directive name.
    """

    name: str
    span: Span
    args: tuple[Any, ...]
    arg_col: int = 1

    def arg_span(self) -> Span:
        """The span of the argument (for findings about the value rather than the directive)."""
        return Span(self.span.path, self.span.line, self.arg_col)


@dataclass(frozen=True, slots=True)
class UpstreamArgs:
    """An upstream line. ``type_text`` is the type as written (``none`` for none rules);
    ``site`` None = the default rule; ``password`` is a Secret."""

    type_text: str
    host: str | None
    port: int | None
    site: str | None
    user: str | None = None
    password: Any = None


@dataclass(frozen=True, slots=True)
class Config:
    """The parsed file: statements in file order, and the display path of the file."""

    path: str
    stmts: tuple[Stmt, ...]
