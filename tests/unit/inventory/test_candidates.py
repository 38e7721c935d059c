"""Server-side DescribeInstances filters: one query per rule, same answer as listing everything."""

from __future__ import annotations

from tests.unit.inventory._fixtures import region_data
from tinysquid.inventory.run import candidate_filters
from tinysquid.inventory.select import Criteria, select_instances


def test_one_filter_set_per_rule():
    d = region_data()
    got = candidate_filters(d, Criteria(tags=(("Role", "tinyproxy"), ("Env", "prod")), name_pattern="tinyproxy-*"))
    assert got == [
        [{"Name": "tag:Role", "Values": ["tinyproxy"]}, {"Name": "tag:Env", "Values": ["prod"]}],
        [{"Name": "tag:Name", "Values": ["tinyproxy-*"]}],
        [{"Name": "instance-id", "Values": ["i-a", "i-b"]}],
        [{"Name": "instance.group-id", "Values": ["sg-proxy"]}],
    ]


def test_bracket_glob_falls_back_to_listing_everything():
    # EC2 filter values know * and ? only; fnmatch's [...] must be matched client-side
    assert candidate_filters(region_data(), Criteria(name_pattern="tinyproxy-[ab]")) == [None]


def test_no_rule_can_match_means_no_query():
    d = region_data()
    d.target_groups, d.security_groups = [], []
    assert candidate_filters(d, Criteria()) == []


def test_filtered_candidates_select_the_same_instances_as_everything():
    d = region_data()
    crit = Criteria(name_pattern="tinyproxy-?")
    everything = select_instances(d.instances, d.security_groups, d.target_groups, d.target_health, crit)

    def matches(inst, filters):
        tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
        import fnmatch
        for f in filters:
            name, values = f["Name"], f["Values"]
            if name.startswith("tag:") and not any(fnmatch.fnmatchcase(tags.get(name[4:], ""), v) for v in values):
                return False
            if name == "instance-id" and inst["InstanceId"] not in values:
                return False
            if name == "instance.group-id" and not {g["GroupId"] for g in inst["SecurityGroups"]} & set(values):
                return False
        return True

    candidates = [i for i in d.instances if any(matches(i, f) for f in candidate_filters(d, crit))]
    assert select_instances(candidates, d.security_groups, d.target_groups, d.target_health, crit) == everything
