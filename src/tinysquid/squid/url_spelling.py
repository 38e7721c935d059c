"""FilterURLs blocklist entries and the URL squid's ``url_regex`` tests (issue 8, URL spellings).

tinyproxy searches the request-target as the client sent it; squid searches the normalised URL
(``src/acl/UrlRegex.cc``, ``AnyP::Uri::absolute()``): the host without its trailing dots, no
``:80``, ``/`` for a missing path, ``host:443`` for a CONNECT without a port (5.7, 6.13). A
blocklist entry that matches a spelling squid rewrites — ``^http://x\\.example\\./``,
``^http://x\\.example:80/``, ``^http://x\\.example$`` — would no longer block it. Such an entry is
widened so that it also blocks the rewritten URL (:func:`widened_for_spelling`, candidates), and the
widened values are checked over every spelling by :func:`tinysquid.proof.urls.difference`; when
no candidate holds, the conversion stops (fail closed: nothing is written).
"""

from __future__ import annotations

from tinysquid.policy import automata as fa
from tinysquid.policy import posix_regex as rx
from tinysquid.proof import urls

_QUANT = "*+?{"
#: what may follow a host in a URL pattern: a path, a port, the end (or the end of a branch)
_BOUNDARY = ("/", ":", "$", "|", ")")


def _tokens(ere: str) -> list[str]:
    """The ERE as atoms: ``\\x`` escapes, bracket expressions, ``{m,n}`` bounds, single characters."""
    out: list[str] = []
    i, n = 0, len(ere)
    while i < n:
        c = ere[i]
        if c == "\\" and i + 1 < n:
            out.append(ere[i:i + 2])
            i += 2
        elif c == "[":
            j = i + 1
            if j < n and ere[j] == "^":
                j += 1
            if j < n and ere[j] == "]":
                j += 1
            while j < n and ere[j] != "]":
                if ere[j] == "[" and j + 1 < n and ere[j + 1] in ":.=":
                    close = ere.find(ere[j + 1] + "]", j + 2)
                    j = close + 2 if close != -1 else n
                else:
                    j += 1
            out.append(ere[i:j + 1])
            i = j + 1
        elif c == "{":
            j = ere.find("}", i)
            j = n - 1 if j == -1 else j
            out.append(ere[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return out


def _dotlike(tok: str) -> bool:
    return tok in ("\\.", ".") or (tok.startswith("[") and not tok.startswith("[^") and "." in tok) or (
        tok.startswith("[^") and "." not in tok)


def _atoms(tokens: list[str]) -> list[str]:
    """Tokens with their quantifier attached (``\\.+`` is one atom)."""
    atoms: list[str] = []
    for tok in tokens:
        if atoms and tok[:1] in _QUANT and tok not in ("{",) and atoms[-1] not in ("(", "|"):
            atoms[-1] += tok
        else:
            atoms.append(tok)
    return atoms


def widened_for_spelling(ere: str) -> str | None:
    """An ERE that also matches the URLs squid makes of what ``ere`` matches as sent: a host dot
    (or any-character) before a path, port or end made optional, ``:80`` before them optional, and
    ``$`` also after a ``/`` or ``:443`` squid adds. None when nothing changes. A candidate only:
    the caller proves it."""
    atoms = _port_runs(_atoms(_tokens(ere)))
    out: list[str] = []
    for i, atom in enumerate(atoms):
        nxt = atoms[i + 1] if i + 1 < len(atoms) else "$"
        if atom.startswith("(:") and atom.endswith(")?"):  # a port, made optional by _port_runs
            out.append(atom)
            continue
        base = atom.rstrip("*+?") if not atom.endswith("}") else atom[:atom.rfind("{")]
        if atom == "$":
            out.append("(/|:443)?$")
            continue
        if _dotlike(base) and (_boundary(nxt) or _run_to_boundary(atoms, i)):
            out.append(f"({atom})?")
            continue
        out.append(atom)
    text = "".join(out)
    return None if text == ere else text


def _digitlike(atom: str) -> bool:
    base = atom.rstrip("*+?") if not atom.endswith("}") else atom[:atom.rfind("{")]
    return base.isdigit() or base in ("[0-9]", "[[:digit:]]", ".")


def _port_runs(atoms: list[str]) -> list[str]:
    """``:`` and digit-like atoms up to a boundary become one optional atom ``(:…)?``: a port the
    entry spells may be the default one, which squid's URL leaves out."""
    out: list[str] = []
    i = 0
    while i < len(atoms):
        if atoms[i] == ":":
            j = i + 1
            while j < len(atoms) and _digitlike(atoms[j]):
                j += 1
            if j > i + 1 and (j == len(atoms) or _boundary(atoms[j])):
                out.append("(" + "".join(atoms[i:j]) + ")?")
                i = j
                continue
        out.append(atoms[i])
        i += 1
    return out


def _boundary(atom: str) -> bool:
    """Whether ``atom`` can only match where a host ends: ``/``, ``:``, the end, a branch's end, or
    a bracket of ``/`` and ``:`` only."""
    if atom[:1] in _BOUNDARY or atom.startswith("(:"):
        return True
    return atom.startswith("[") and not atom.startswith("[^") and set(atom[1:-1]) <= set("/:")


def _run_to_boundary(atoms: list[str], i: int) -> bool:
    """Whether atoms after ``i`` are dot-like up to a boundary (a run of trailing dots)."""
    j = i + 1
    while j < len(atoms):
        a = atoms[j]
        base = a.rstrip("*+?") if not a.endswith("}") else a[:a.rfind("{")]
        if not _dotlike(base):
            return _boundary(a)
        j += 1
    return True


def block_witness(tinyproxy: rx.Node, tp_icase: bool, squid: list[tuple[str, bool]], *,
                  connect_default_port: bool = True) -> urls.Found | None:
    """A request spelling tinyproxy's entry blocks (as sent) that none of squid's values blocks
    (on its normalised URL), or None. Raises :class:`fa.Unsupported` / ``BudgetExceeded`` when the
    automata cannot decide."""
    left = fa.determinize(fa.from_tree(tinyproxy, icase=tp_icase, search=True))
    parts = [fa.from_tree(rx.parse_ere(v), icase=i, search=True) for v, i in squid]
    right = fa.determinize(fa.union(parts))
    return urls.difference(left, right, connect_default_port=connect_default_port, only=True)


__all__ = ["block_witness", "widened_for_spelling"]
