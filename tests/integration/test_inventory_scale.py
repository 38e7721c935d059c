"""Scale: 3 regions × 500 instances, 20 NLBs and 200 Elastic IPs in all, against a moto server.

Completes, finds exactly the proxies, and exercises pagination (several pages requested per list
call, counted on the wire by the recording proxy in front of moto).
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration._moto import RecordingProxy, fake_aws_env, reset, seed_scale, session, threaded_moto
from tinysquid.inventory.run import Options, run_inventory
from tinysquid.inventory.select import Criteria

pytestmark = pytest.mark.integration

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
NLBS = (7, 7, 6)      # 20 in all
EIPS = (67, 67, 66)   # 200 in all


@pytest.fixture(scope="module")
def scaled():
    with fake_aws_env(), threaded_moto() as url:
        reset(url)
        with ThreadPoolExecutor(3) as pool:
            seeds = list(pool.map(lambda args: seed_scale(url, args[0], instances=500, nlbs=args[1], eips=args[2]),
                                  zip(REGIONS, NLBS, EIPS, strict=False)))
        yield url, dict(zip(REGIONS, seeds, strict=False))


def test_three_regions_500_instances_paginated(scaled):
    url, seeds = scaled
    progress: list[tuple[int, int]] = []
    with RecordingProxy(url) as proxy:
        started = time.monotonic()
        res = run_inventory(session(), Options(criteria=Criteria((("Role", "tinyproxy"),), None, 8888),
                                               regions=REGIONS, endpoint_url=proxy.url, page_size=5),
                            progress=lambda done, total: progress.append((done, total)))
        elapsed = time.monotonic() - started
    doc = res.document
    assert res.gaps == [] and doc["gaps"] == []
    assert doc["regions"] == sorted(REGIONS)
    assert {i["id"] for i in doc["instances"]} == {p for s in seeds.values() for p in s["proxies"]}
    assert len(doc["instances"]) == 36                          # 12 proxies per region, no fleet instance
    assert len(doc["elastic_ips"]) == 12 and len(doc["load_balancers"]) == 3  # one proxy NLB per region
    assert sum(1 for i in doc["instances"] if i["target_groups"]) == 12

    pages = Counter((r, a) for _s, r, a in proxy.calls)
    for region in REGIONS:
        # the "anything here?" probe: 1 page; tag query: 12 proxy reservations at 5 per page = 3
        # pages; target-group id query: 1 page
        assert pages[(region, "DescribeInstances")] == 1 + 3 + 1, pages
        assert pages[(region, "DescribeLoadBalancers")] >= 2, pages   # 7 NLBs at 5 per page
        assert pages[(region, "DescribeTargetGroups")] >= 1, pages    # moto 5 ignores PageSize here
    assert progress and progress[-1][0] == progress[-1][1]
    assert elapsed < 60
