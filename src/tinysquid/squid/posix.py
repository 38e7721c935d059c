"""The C library's POSIX regex engine (what squid and tinyproxy both compile patterns with).

squid compiles every regex ACL value with ``regcomp(REG_EXTENDED | REG_NOSUB [| REG_ICASE])`` and
tests it with ``regexec`` (src/base/RegexPattern.cc); tinyproxy does the same on its filter lines.
Asking the same library answers "does squid compile this?" and "does it match this string?" with
squid's own semantics, not a re-implementation, in the C locale both run in (bytes, not
characters). No C library reachable → the helpers say so.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import re
from collections.abc import Iterator

_REG_EXTENDED, _REG_ICASE, _REG_NOSUB = 1, 2, 8
_REGEX_T = 1024  # >= sizeof(regex_t) on every libc we know (glibc: 64)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    if lib is None or not hasattr(lib, "regcomp"):
        return None
    lib.regcomp.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.regexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int]
    lib.regerror.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.regfree.argtypes = [ctypes.c_void_p]
    lib.newlocale.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p]
    lib.newlocale.restype = ctypes.c_void_p
    lib.uselocale.argtypes = [ctypes.c_void_p]
    lib.uselocale.restype = ctypes.c_void_p
    return lib


_LC_CTYPE_MASK, _LC_COLLATE_MASK = 1 << 0, 1 << 3


@functools.cache
def _c_locale() -> int | None:
    lib = _libc()
    if lib is None:
        return None
    return lib.newlocale(_LC_CTYPE_MASK | _LC_COLLATE_MASK, b"C", None) or None


@contextlib.contextmanager
def _in_c_locale() -> Iterator[None]:
    """Run regcomp/regexec in the C locale, as squid and tinyproxy do (neither calls setlocale, so
    both match bytes); Python itself switched LC_CTYPE to the user's (UTF-8) locale at start-up."""
    lib, loc = _libc(), _c_locale()
    if lib is None or loc is None:
        yield
        return
    old = lib.uselocale(loc)
    try:
        yield
    finally:
        lib.uselocale(old)


def available() -> bool:
    """Whether the C library's regex functions can be called."""
    return _libc() is not None


def _flags(icase: bool) -> int:
    return _REG_EXTENDED | _REG_NOSUB | (_REG_ICASE if icase else 0)


def ere_error(pattern: str, *, icase: bool) -> str | None:
    """regcomp's error for ``pattern`` as squid compiles it, or None (compiles, or no C library)."""
    lib = _libc()
    if lib is None:
        return None
    if compiled(pattern, icase=icase) is not None:  # compiles (and is kept: the caller matches next)
        return None
    buf = ctypes.create_string_buffer(_REGEX_T)
    with _in_c_locale():
        rc = lib.regcomp(buf, pattern.encode("utf-8", "surrogateescape"), _flags(icase))
    if rc == 0:
        lib.regfree(buf)
        return None
    msg = ctypes.create_string_buffer(256)
    lib.regerror(rc, buf, msg, len(msg))
    return msg.value.decode("utf-8", "replace") or f"regcomp error {rc}"


# A chain of literals, ``\.`` and ``.`` between optional anchors: every letter, digit, ``-`` and
# ``_`` in it must occur in any string it matches (case-folded under REG_ICASE, in the C locale).
_LITERAL_CHAIN = re.compile(r"\^?(?:[A-Za-z0-9_-]|\\\.|\.)+\$?")
_LITERAL_CHARS = re.compile(r"[A-Za-z0-9_-]")


class Compiled:
    """One compiled ERE; :meth:`search` is regexec (unanchored search, as both proxies do).

    For a pattern that is a chain of literals (the shape of nearly every filter entry) a string
    lacking one of its letters, digits, ``-`` or ``_`` cannot match, and regexec is not called for
    it: convert tests each entry against fourteen IP-address spellings, which such a name never
    matches."""

    __slots__ = ("_buf", "_icase", "_lib", "_needs")

    def __init__(self, pattern: str, *, icase: bool) -> None:
        lib = _libc()
        if lib is None:
            raise OSError("no C library regex functions")
        buf = ctypes.create_string_buffer(_REGEX_T)
        with _in_c_locale():
            rc = lib.regcomp(buf, pattern.encode("utf-8", "surrogateescape"), _flags(icase))
        if rc != 0:
            raise ValueError(f"does not compile: {pattern!r}")
        self._buf, self._lib, self._icase = buf, lib, icase
        self._needs: frozenset[str] | None = None
        if _LITERAL_CHAIN.fullmatch(pattern):
            self._needs = frozenset(_LITERAL_CHARS.findall(pattern.lower() if icase else pattern))

    def _may_match(self, text: str) -> bool:
        """False only when ``text`` lacks a character the pattern must match (see the class)."""
        if self._needs is None:
            return True
        return self._needs <= frozenset(text.lower() if self._icase else text)

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text``."""
        if not self._may_match(text):
            return False
        with _in_c_locale():
            return bool(self._lib.regexec(self._buf, text.encode("utf-8", "surrogateescape"), 0, None, 0) == 0)

    def search_all(self, texts: tuple[str, ...]) -> list[bool]:
        """:meth:`search` for each of ``texts`` (one locale switch for all)."""
        needs = self._needs
        if needs is not None:
            maybe = [needs <= chars for chars in _char_sets(texts, self._icase)]
            if not any(maybe):
                return maybe
        else:
            maybe = [True] * len(texts)
        regexec, buf = self._lib.regexec, self._buf
        with _in_c_locale():
            return [m and regexec(buf, t.encode("utf-8", "surrogateescape"), 0, None, 0) == 0
                    for m, t in zip(maybe, texts, strict=True)]

    def __del__(self) -> None:
        lib = getattr(self, "_lib", None)
        if lib is not None:
            lib.regfree(self._buf)


@functools.lru_cache(maxsize=32)  # the same few sample tuples, for every entry
def _char_sets(texts: tuple[str, ...], icase: bool) -> tuple[frozenset[str], ...]:
    """The characters of each text (lower-cased under ``icase``), for :meth:`Compiled._may_match`."""
    return tuple(frozenset(t.lower() if icase else t) for t in texts)


@functools.lru_cache(maxsize=8)  # one entry is checked, emitted and compared in a row
def compiled(pattern: str, *, icase: bool) -> Compiled | None:
    """``Compiled(pattern)``, or None when it does not compile or no C library is reachable."""
    try:
        return Compiled(pattern, icase=icase)
    except (OSError, ValueError):
        return None
