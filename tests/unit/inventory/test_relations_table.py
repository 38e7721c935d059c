"""relate_region is a table of relation steps: one short function per AWS relation, instances last."""

from __future__ import annotations

import ast
import inspect

from tinysquid.inventory import graph
from tinysquid.inventory.graph import RELATIONS, Records


def test_relations_run_in_dependency_order():
    kinds = [kind for kind, _ in RELATIONS]
    assert kinds == ["elastic_ips", "target_groups", "load_balancers", "security_groups", "auto_scaling_groups",
                     "nat_gateways", "instances"]
    # every step fills the record list of its own name
    assert set(kinds) <= set(Records.__dataclass_fields__)


def test_every_function_of_the_module_fits_on_a_screen():
    tree = ast.parse(inspect.getsource(graph))
    long = {n.name: n.end_lineno - n.lineno + 1 for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef) and n.end_lineno - n.lineno + 1 > 40}
    assert long == {}
