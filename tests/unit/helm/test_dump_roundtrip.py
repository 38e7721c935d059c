"""values.yaml is written partly by hand (the squid.conf literal block): it must load back exactly."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tinysquid.helm.values import dump_values

conf_text = st.one_of(
    st.lists(st.sampled_from(["# c", "acl a dstdomain .x.example", "http_access deny all", "",
                              "  indented", "tab\there", "quote ' \" {{ x }}", "colon: value", "- dash",
                              "trailing ", "ünïcode", "#"]), max_size=8).map("\n".join),
    # NEL/LS/PS are YAML line breaks that PyYAML itself cannot round-trip in any style; a
    # generated squid.conf never holds them (the hand-written block refuses them too).
    st.text(max_size=60).filter(lambda t: not set(t) & {"\x85", "\u2028", "\u2029"}),
)


@settings(max_examples=300, deadline=None)
@given(text=conf_text, other=st.booleans())
def test_dump_values_round_trips(text, other):
    config = {"squid.conf": text}
    if other:
        config["annotations"] = {"a": "b"}
    values = {"replicaCount": 2, "service": {"port": 8888}, "config": config}
    assert yaml.safe_load(dump_values(values)) == values


def test_yaml_line_breaks_are_never_written_raw_in_the_block():
    from tinysquid.helm.values import _literal_safe

    for char in ("\x85", "\u2028", "\u2029", "\ufeff", "\x00", "\r"):
        assert not _literal_safe(f"# a\nacl x{char}y\n")
    assert _literal_safe("# a\nacl x dstdomain .ü.example\n")
