"""The plan document: the example loads, each rule names its problem, and every problem is listed at once."""

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from failover.plan import CLOUDFRONT_ZONE, MAX_RECORDS, Plan
from regionshift import plans

EXAMPLE = Path("plans/example.yaml")
ZONE = "zones.Z0EXAMPLE0APEX"
Data = dict[str, Any]


def example() -> Data:
    return yaml.safe_load(EXAMPLE.read_text())


def problems_of(data: Data) -> list[str]:
    with pytest.raises(plans.PlanFileError) as refused:
        plans.parse(data)
    return refused.value.problems


def record(data: Data, name: str) -> Data:
    return next(r for r in data["zones"][0]["records"] if r["name"] == name)


def cname(name: str) -> Data:
    return {
        "name": name,
        "type": "CNAME",
        "ttl": 60,
        "targets": {r: f"{name.split('.')[0]}-{r}.example.net" for r in ("us-east-1", "us-west-2", "eu-west-1")},
    }


def apex_cname(d: Data) -> None:
    d["zones"][0]["records"][0] = cname("example.com")


def cname_beside_alias(d: Data) -> None:
    d["zones"][0]["records"].append(cname("api.example.com"))


def alias_with_ttl(d: Data) -> None:
    record(d, "api.example.com")["ttl"] = 60


def alias_without_evaluate(d: Data) -> None:
    del record(d, "api.example.com")["evaluateTargetHealth"]


def cloudfront_evaluated(d: Data) -> None:
    record(d, "api.example.com")["targets"]["eu-west-1"] = {
        "dnsName": "d111111abcdef8.cloudfront.net",
        "hostedZoneId": CLOUDFRONT_ZONE,
    }


def target_missing(d: Data) -> None:
    del record(d, "db.example.com")["targets"]["eu-west-1"]


def cname_without_ttl(d: Data) -> None:
    del record(d, "db.example.com")["ttl"]


def cname_evaluated(d: Data) -> None:
    record(d, "db.example.com")["evaluateTargetHealth"] = False


def alias_to_host_name(d: Data) -> None:
    record(d, "api.example.com")["targets"]["us-west-2"] = "api-usw2.example.net"


def replica_missing(d: Data) -> None:
    del d["databases"][1]["replicas"]["eu-west-1"]


def duplicate_region(d: Data) -> None:
    d["regions"]["standbys"].append({"region": "us-west-2", "healthCheckId": "44444444-4444-4444-4444-444444444444"})


def duplicate_health_check(d: Data) -> None:
    d["regions"]["standbys"][1]["healthCheckId"] = d["regions"]["standbys"][0]["healthCheckId"]


def outside_zone(d: Data) -> None:
    record(d, "api.example.com")["name"] = "api.example.org"


def too_many_records(d: Data) -> None:
    d["zones"][0]["records"] += [cname(f"r{i}.example.com") for i in range(MAX_RECORDS)]


def target_copied(d: Data) -> None:
    # A copy-paste slip: eu-west-1's CNAME points at the primary's database
    targets = record(d, "db.example.com")["targets"]
    targets["eu-west-1"] = targets["us-east-1"]


def too_many_databases_for_the_waits(d: Data) -> None:
    # 30 databases take two rounds of the promotion Map: the waits of both must fit
    d["databases"] = [
        {"name": f"db{i}", "primary": f"p{i}", "replicas": {"us-west-2": f"a{i}", "eu-west-1": f"b{i}"}}
        for i in range(30)
    ]
    d["rails"]["promotionMaxPolls"] = 300


def waits_beyond_timeout(d: Data) -> None:
    d["rails"]["promotionMaxPolls"] = 700


@pytest.mark.parametrize(
    ("break_it", "problem"),
    [
        (apex_cname, f"{ZONE}.example.com: the zone apex cannot be a CNAME (RFC 1034); use an alias A/AAAA record"),
        (cname_beside_alias, f"{ZONE}.api.example.com: a CNAME cannot share its name with another record type"),
        (alias_with_ttl, f"{ZONE}.api.example.com: an alias record has no TTL (Route 53 uses the target's)"),
        (alias_without_evaluate, f"{ZONE}.api.example.com: an alias record needs evaluateTargetHealth (true or false)"),
        (
            cloudfront_evaluated,
            f"{ZONE}.api.example.com: evaluateTargetHealth cannot be true for a CloudFront target (eu-west-1)",
        ),
        (target_missing, f"{ZONE}.db.example.com: no target in region(s) eu-west-1"),
        (cname_without_ttl, f"{ZONE}.db.example.com: a CNAME needs a ttl"),
        (cname_evaluated, f"{ZONE}.db.example.com: evaluateTargetHealth applies to alias records only"),
        (
            alias_to_host_name,
            f"{ZONE}.api.example.com: the us-west-2 target of an alias needs dnsName and hostedZoneId",
        ),
        (replica_missing, "databases.accounts: no replica in standby region(s) eu-west-1"),
        (
            duplicate_region,
            "regions: each region appears once (primary and standbys: us-east-1, us-west-2, eu-west-1, us-west-2)",
        ),
        (duplicate_health_check, "regions: each region needs its own health check"),
        (outside_zone, f"{ZONE}.api.example.org: not inside the zone example.com"),
        (
            too_many_records,
            f"zones: {MAX_RECORDS + 3} records; at most {MAX_RECORDS} per plan (the run's document must stay small)",
        ),
        (
            target_copied,
            f"{ZONE}.db.example.com: the eu-west-1 target orders-primary.c0example.us-east-1.rds.amazonaws.com "
            "names region us-east-1",
        ),
        (
            target_copied,
            f"{ZONE}.db.example.com: the us-east-1 target is the eu-west-1 target "
            "(orders-primary.c0example.us-east-1.rds.amazonaws.com): each region needs its own",
        ),
        (
            too_many_databases_for_the_waits,
            "rails: confirmation, promotion and DNS waits add up to 4290 s, beyond the 3600 s execution timeout: "
            "lower the polls or intervals",
        ),
        (
            waits_beyond_timeout,
            "rails: confirmation, promotion and DNS waits add up to 4790 s, beyond the 3600 s execution timeout: lower the polls or intervals",
        ),
    ],
    ids=lambda v: v.__name__ if callable(v) else "",
)
def test_each_rule_names_its_problem(break_it: Callable[[Data], None], problem: str) -> None:
    # Given the example plan with one rule broken
    data = example()
    break_it(data)
    # When it is validated
    found = problems_of(data)
    # Then that rule's problem is listed, where it is
    assert problem in found


def test_the_example_plan_loads() -> None:
    # Given the example file; When it is loaded
    plan = plans.load(EXAMPLE)
    # Then its sections are read, names normalised, and its digest is that of its canonical form
    assert plan.primary_region == "us-east-1"
    assert plan.standby_regions == ["us-west-2", "eu-west-1"]
    assert [(db.name, db.kind) for db in plan.databases] == [
        ("orders", "rds-instance"),
        ("accounts", "rds-instance"),
        ("ledger", "aurora-global"),
    ]
    assert [(c.name, c.global_datastore, c.after) for c in plan.caches] == [
        ("sessions", "ldgnf-sessions", ["orders", "accounts", "ledger"])
    ]
    assert [t.table for t in plan.tables] == ["carts"]
    # the cache waits for the databases: two stages
    assert [[m.name for m in stage] for stage in plan.stages] == [["orders", "accounts", "ledger"], ["sessions"]]
    assert [r.name for _, r in plan.records] == ["example.com", "api.example.com", "db.example.com"]
    assert plan.records[2][1].target("eu-west-1") == "orders-eu-west.c0example.eu-west-1.rds.amazonaws.com"
    assert plan.digest() == hashlib.sha256(plan.canonical()).hexdigest()
    assert Plan.model_validate_json(plan.canonical()) == plan


def test_several_problems_are_listed_at_once() -> None:
    # Given a plan that breaks three cross-section rules in three sections
    data = example()
    alias_with_ttl(data)
    replica_missing(data)
    duplicate_health_check(data)
    # When it is validated
    found = problems_of(data)
    # Then all three are listed, and nothing else
    assert found == [
        "regions: each region needs its own health check",
        "databases.accounts: no replica in standby region(s) eu-west-1",
        f"{ZONE}.api.example.com: an alias record has no TTL (Route 53 uses the target's)",
    ]


def test_every_field_error_is_listed() -> None:
    # Given three malformed fields in different sections
    data = example()
    data["regions"]["primary"]["region"] = "mars-1"
    data["databases"][0]["primary"] = "orders--primary"
    data["zones"][0]["records"][1]["type"] = "MX"
    # When it is validated; Then each is listed with its place in the document
    found = problems_of(data)
    assert len(found) == 3
    assert [p.split(":")[0] for p in found] == [
        "regions.primary.region",
        "databases.0.primary",
        "zones.0.records.1.type",
    ]


def test_a_malformed_cname_target_does_not_hide_the_other_problems() -> None:
    # Given a CNAME target that is no host name (with "; " in it) and a duplicate health check
    data = example()
    record(data, "db.example.com")["targets"]["us-east-1"] = "not a; host"
    duplicate_health_check(data)
    # When it is validated; Then both are listed, the target's as one problem
    assert problems_of(data) == [
        "regions: each region needs its own health check",
        f"{ZONE}.db.example.com: us-east-1: malformed or wildcard DNS name: 'not a; host'",
    ]


@pytest.mark.parametrize(
    ("place", "problem"),
    [
        ((), "nmae: Extra inputs are not permitted"),
        (("rails",), "rails.confirmProbe: Extra inputs are not permitted"),
        (("databases", 0), "databases.0.nmae: Extra inputs are not permitted"),
    ],
)
def test_unknown_keys_are_refused(place: tuple[str | int, ...], problem: str) -> None:
    # Given a misspelt key (a typo must not silently fall back to a default)
    data = example()
    section: Any = data
    for part in place:
        section = section[part]
    section["confirmProbe" if place == ("rails",) else "nmae"] = "x"
    # When it is validated; Then the key is refused
    assert problem in problems_of(data)


def reorder(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reorder(v) for k, v in reversed(value.items())}
    if isinstance(value, list):
        return [reorder(v) for v in value]
    return value


def test_the_digest_is_stable_across_key_order_and_follows_the_content() -> None:
    # Given the example, the same with every mapping's keys reversed, and JSON instead of YAML
    data = example()
    same = [plans.parse(reorder(copy.deepcopy(data))), plans.parse(json.loads(json.dumps(data)))]
    # When their digests are taken; Then they are equal, and one changed value changes it
    digest = plans.parse(data).digest()
    assert all(plan.digest() == digest for plan in same)
    data["rails"]["maxReplicaLagSeconds"] = 61
    assert plans.parse(data).digest() != digest


def test_an_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    # Given a file that is not YAML; When loaded; Then it is refused with one problem
    path = tmp_path / "plan.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(plans.PlanFileError) as refused:
        plans.load(path)
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith("cannot be read as YAML or JSON")


def test_a_key_given_twice_is_refused_not_silently_replaced(tmp_path: Path) -> None:
    # Given the example with a second `zones:` (YAML would keep only the last, dropping every record)
    text = EXAMPLE.read_text() + "zones:\n  - {id: Z2, name: example.org, records: []}\n"
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    # When it is loaded; Then it is refused, naming the key and where
    with pytest.raises(plans.PlanFileError) as refused:
        plans.load(path)
    assert "the key 'zones' is given twice" in refused.value.problems[0]


def test_health_checks_are_uuids_compared_without_case() -> None:
    # Given the second standby's health check as the first's in upper case
    data = example()
    data["regions"]["standbys"][1]["healthCheckId"] = data["regions"]["standbys"][0]["healthCheckId"].upper()
    # Then the two are one health check
    assert "regions: each region needs its own health check" in problems_of(data)
    # And an id that is not a UUID is refused
    data = example()
    data["regions"]["primary"]["healthCheckId"] = "-"
    assert any(p.startswith("regions.primary.healthCheckId") for p in problems_of(data))
