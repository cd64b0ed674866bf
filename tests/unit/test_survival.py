"""``regionshift check``'s verdict on region losses (regionshift/survival.py), from the recovery path's
dependencies: detection, decision and traffic each need us-east-1 unless probes and data-plane replace it."""

import copy

from failover.plan import Plan
from regionshift.survival import losses
from tests.conftest import PLAN, PLAN_DOCUMENT


def _verdicts(plan: Plan, stack: str = "us-west-2") -> dict[str, tuple[bool, str]]:
    return {loss.region: (loss.survived, loss.why) for loss in losses(plan, stack)}


def _probed_data_plane() -> Plan:
    document = copy.deepcopy(PLAN_DOCUMENT)
    document["regions"]["standbys"] = document["regions"]["standbys"][:1]
    for database in document["databases"]:
        database["replicas"] = {"us-west-2": database["replicas"]["us-west-2"]}
    for zone in document["zones"]:
        for record in zone["records"]:
            record["targets"].pop("eu-west-1")
    document["regions"]["primary"]["probeUrl"] = "https://api.us-east-1.example.com/health"
    document["regions"]["standbys"][0]["probeUrl"] = "https://api.us-west-2.example.com/health"
    document["traffic"] = {"mode": "data-plane"}
    return Plan.model_validate(document)


def test_an_upsert_plan_without_probes_survives_no_loss_of_its_us_east_1_primary() -> None:
    verdicts = _verdicts(PLAN)
    survived, why = verdicts["us-east-1"]
    assert not survived
    assert "detection" in why and "a decision" in why and "upsert mode" in why
    # The stack region's loss is never survived; another standby's is (the primary keeps serving)
    assert verdicts["us-west-2"][0] is False and "orchestrator" in verdicts["us-west-2"][1]
    assert verdicts["eu-west-1"] == (True, "the primary keeps serving")


def test_probes_and_the_data_plane_mode_survive_the_loss_of_us_east_1() -> None:
    survived, why = _verdicts(_probed_data_plane())["us-east-1"]
    assert survived and "probes and the data-plane switch" in why


def test_probes_alone_still_lack_a_way_to_move_upsert_records() -> None:
    plan = _probed_data_plane().model_copy(update={"traffic": PLAN.traffic})
    survived, why = _verdicts(plan)["us-east-1"]
    assert not survived
    assert "upsert mode" in why and "detection" not in why and "decision" not in why


def test_a_primary_outside_us_east_1_survives_its_loss_and_us_east_1s_loss_is_only_a_warning() -> None:
    document = copy.deepcopy(PLAN_DOCUMENT)
    document["regions"]["primary"]["region"] = "eu-central-1"
    for database in document["databases"]:
        database["primary"] = database["primary"]
    for zone in document["zones"]:
        for record in zone["records"]:
            record["targets"]["eu-central-1"] = record["targets"].pop("us-east-1")
    plan = Plan.model_validate(document)
    verdicts = _verdicts(plan)
    assert verdicts["eu-central-1"] == (
        True,
        "the primary: detected, decided and moved with the Route 53 alarm and checker votes",
    )
    survived, why = verdicts["us-east-1"]
    assert survived and "a failover meanwhile would lack detection" in why
