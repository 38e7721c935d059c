"""The least-privilege read-only IAM policy: built from ``collect.ACTIONS``, the list the collector obeys.

One source of truth: the collector refuses any call not in ``ACTIONS``, and this policy grants
exactly ``ACTIONS``. None of these actions supports resource-level permissions (AWS service
authorization reference: the Describe*/List* actions here take ``Resource: "*"``), so the
narrowing is by action only.
"""

from __future__ import annotations

import json
from typing import Any

from tinysquid.inventory.collect import ACTIONS, PRICING_ACTIONS


def actions(*, live_prices: bool = False) -> list[str]:
    """Every IAM action inventory-aws may perform, ``prefix:Action``, sorted (with the Price List
    API's ``pricing:GetProducts`` when prices are asked from it)."""
    listed = ACTIONS + (PRICING_ACTIONS if live_prices else ())
    return sorted({f"{svc.iam}:{action}" for svc, action in listed})


def policy_document(*, live_prices: bool = False) -> dict[str, Any]:
    """The IAM policy document (JSON-ready)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TinysquidInventoryReadOnly",
            "Effect": "Allow",
            "Action": actions(live_prices=live_prices),
            "Resource": "*",
        }],
    }


def policy_json(*, live_prices: bool = False) -> str:
    """The policy as indented JSON with a trailing newline (what --print-iam-policy prints)."""
    return json.dumps(policy_document(live_prices=live_prices), indent=2) + "\n"
