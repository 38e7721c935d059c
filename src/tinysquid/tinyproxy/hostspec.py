"""Addresses as tinyproxy reads them (``hostspec.c``, glibc ``inet_aton``/``inet_pton``).

Used by the lowering (Allow/Deny entries, Listen, upstream sites). Pure functions of text.
"""

from __future__ import annotations

import ipaddress
import re

from tinysquid.policy import ir

U32 = 0xFFFFFFFF  # set_int_arg stores strtoul's result in an unsigned int


def inet_aton(text: str) -> int | None:
    """glibc ``inet_aton``: 1–4 parts, each strtoul base 0 (``0x`` hex, leading 0 octal);
    ``127.1`` = 127.0.0.1, ``10`` = 0.0.0.10. None when it is not an address."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if not re.fullmatch(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*", part):
            return None
        values.append(int(part[2:] or "0", 16) if part[:2].lower() == "0x" else
                      int(part, 8) if part.startswith("0") else int(part))
    *head, last = values
    if any(v > 255 for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    value = 0
    for v in head:
        value = (value << 8) | v
    return (value << (8 * (4 - len(head)))) | last


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``full_inet_pton``: inet_aton first, then inet_pton(AF_INET6)."""
    v4 = inet_aton(text)
    if v4 is not None:
        return ipaddress.IPv4Address(v4)
    try:
        return ipaddress.IPv6Address(text) if "%" not in text else None
    except ValueError:
        return None


def parse_hostspec(text: str, *, dotted_masks: bool) -> ir.IPNetwork | str | None:
    """``hostspec_parse``: a network (host bits masked), a name (str), or None when invalid.

    The text is split at the last ``/``; an IPv4 mask is 0–32 (tinyproxy adds 96 and checks ≤128),
    IPv6 0–128; a dotted mask is accepted only for IPv4 sites (``dotted_masks``); a non-address with
    ``/`` or ``:`` is invalid; anything else is a name.
    """
    addr_text, slash, mask = text.rpartition("/") if "/" in text else (text, "", "")
    addr = parse_address(addr_text)
    if addr is None:
        if slash or ":" in addr_text:
            return None
        return text
    prefix: int
    if not slash:
        prefix = addr.max_prefixlen
    elif "." in mask:
        if addr.version == 6 or not dotted_masks:
            return None
        try:
            m = int(ipaddress.IPv4Address(mask))
        except ValueError:
            return None
        bits = bin(m).count("1")
        if m != (U32 << (32 - bits)) & U32:
            # a non-contiguous mask: tinyproxy masks byte-wise; keep the exact set only if contiguous
            return None
        prefix = bits
    else:
        if not mask.isdigit():
            return None
        prefix = int(mask)
        if prefix > addr.max_prefixlen:
            return None
    net_cls = ipaddress.IPv4Network if addr.version == 4 else ipaddress.IPv6Network
    return net_cls((int(addr), prefix), strict=False)


__all__ = ["U32", "inet_aton", "parse_address", "parse_hostspec"]
