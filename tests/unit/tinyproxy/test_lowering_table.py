"""The lowering is table-driven: one registered function per directive of the directive table."""

from __future__ import annotations

import ast
import inspect

import pytest

from tinysquid.tinyproxy import lower
from tinysquid.tinyproxy.directives import DIRECTIVES


def test_every_directive_has_exactly_one_lowering():
    assert sorted(lower._LOWERINGS) == sorted(d.name for d in DIRECTIVES)


def test_registering_a_directive_twice_is_refused():
    with pytest.raises(RuntimeError, match="two lowerings for Port"):
        lower._lowers("Port")(lambda lw, s: None)
    assert lower._LOWERINGS["Port"] is lower._lower_port


@pytest.mark.parametrize("fn", sorted(set(lower._LOWERINGS.values()), key=lambda f: f.__name__),
                         ids=lambda f: f.__name__)
def test_each_lowering_fits_on_a_screen(fn):
    node = ast.parse(inspect.getsource(fn)).body[0]
    assert node.end_lineno - node.lineno + 1 <= 30, f"{fn.__name__} is {node.end_lineno - node.lineno + 1} lines"


def test_lower_itself_is_short():
    node = ast.parse(inspect.getsource(lower.lower)).body[0]
    assert node.end_lineno - node.lineno + 1 <= 30
