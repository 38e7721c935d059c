"""`tinysquid inventory-aws`: List the legacy EC2/NLB/target group/EIP/security group estate, read-only, with its monthly cost."""

from __future__ import annotations

from tinysquid.cli._common import not_implemented

EPILOG = "Not implemented yet (issue #4). Exit codes: 2 not implemented."


def inventory_aws() -> None:
    """List the legacy EC2/NLB/target group/EIP/security group estate, read-only, with its monthly cost."""
    not_implemented("inventory-aws", 4)
