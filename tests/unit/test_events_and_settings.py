"""Sample events (for ``sam local invoke``) parse into their step's model; the stack's settings and its
packaged plan fail loudly."""

import json
from pathlib import Path

import pytest

from failover.errors import ConfigurationError
from failover.models import ApprovalInput, IntakeInput, ProbeInput, PromotionItem, RunDocument
from failover.plan import EXECUTION_TIMEOUT_SECONDS, Rails, digest_of
from failover.settings import Settings
from regionshift import template as cfn
from tests.conftest import PLAN, PLAN_DOCUMENT, PLAN_ENV

EVENTS = sorted(Path("events").glob("*.json"))
HANDLER_OF = {
    "intake-alarm": "intake",
    "intake-manual": "intake",
    "intake-switchover": "intake",
    "gate": "gate",
    "assess": "assess",
    "promote": "promote",
    "promotion-status": "promotion_status",
    "target-health": "target_health",
    "update-dns": "update_dns",
    "dns-status": "dns_status",
    "rollback": "rollback",
    "fence": "fence",
    "watch": "watch",
    "approval": "approval",
    "notify": "notify",
    "finalize": "finalize",
    "probe": "probe",
}
# The promotion Map's iterations take one replica each; Intake the raw trigger; the rest the document.
MODEL_OF: dict[str, type[IntakeInput | PromotionItem | RunDocument | ProbeInput | ApprovalInput]] = {
    "intake": IntakeInput,
    "approval": ApprovalInput,
    "probe": ProbeInput,
    "promote": PromotionItem,
    "promotion_status": PromotionItem,
}
# What each step reads from the document, present in its sample.
NEEDS = {
    "promotion-status": "promotion",
    "target-health": "assess.target",
    "update-dns": "target",
    "dns-status": "dns",
    "rollback": "error",
    "watch": "assess.target",
    "notify": "result",
    "finalize": "result",
}


def test_every_step_has_a_sample_event() -> None:
    handlers = {
        f["Properties"]["Handler"].split(".")[1]
        for f in cfn.load()["Resources"].values()
        if f["Type"] == "AWS::Serverless::Function"
    }
    assert {p.stem for p in EVENTS} == set(HANDLER_OF)
    assert set(HANDLER_OF.values()) == handlers


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: p.stem)
def test_sample_event_parses_into_its_model(path: Path) -> None:
    event = json.loads(path.read_text())
    model = MODEL_OF.get(HANDLER_OF[path.stem], RunDocument)
    parsed = model.model_validate(event)
    if isinstance(parsed, ProbeInput):
        # The schedule's input: no run, only the round's scheduled time
        assert parsed.scheduled_time is not None
        return
    assert parsed.execution.id.startswith("arn:aws:states:")
    if isinstance(parsed, ApprovalInput):
        # The AwaitApproval task's payload: its token, and a run the plan makes wait
        assert parsed.token and parsed.intake.approval is not None and parsed.assess.target in PLAN.standby_regions
    if isinstance(parsed, RunDocument):
        assert parsed.intake is not None and parsed.intake.decision == "PROCEED"
        assert parsed.intake.plan.standby_regions == PLAN.standby_regions
    if isinstance(parsed, PromotionItem):
        # A replica of one of the plan's databases, in a standby region (the samples come from an
        # emulated drill, whose replicas are named <database>-<region>)
        assert parsed.replica.database in {db.name for db in PLAN.databases}
        assert parsed.replica.region in PLAN.standby_regions
        assert parsed.replica.identifier == f"{parsed.replica.database}-{parsed.replica.region}"
    if path.stem in NEEDS:
        value: object = parsed
        for part in NEEDS[path.stem].split("."):
            value = getattr(value, part)
        assert value is not None


def test_the_sample_documents_move_every_database_and_zone_of_the_plan() -> None:
    doc = RunDocument.model_validate(json.loads(Path("events/finalize.json").read_text()))
    assert doc.assess is not None and doc.promotions is not None and doc.dns is not None
    target = doc.assess.target
    assert target is not None
    # every replica Assess verified in the target was promoted, one per database of the plan
    assert sorted(p.identifier for p in doc.promotions) == sorted(r.identifier for r in doc.assess.replicas)
    assert sorted(p.database for p in doc.promotions) == sorted(db.name for db in PLAN.databases)
    assert [z.zone_id for z in doc.dns.zones] == [z.id for z in PLAN.zones]


# --- Settings.from_env ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PLAN_ENV))
def test_a_missing_variable_is_named(name: str) -> None:
    env = {k: v for k, v in PLAN_ENV.items() if k != name}
    with pytest.raises(ConfigurationError, match=f"missing environment variables: {name}$"):
        Settings.from_env(env)


def test_every_missing_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigurationError, match="missing environment variables: ALARM_ARN, PLAN_DIGEST, PLAN_FILE"):
        Settings.from_env({k: v for k, v in PLAN_ENV.items() if k not in ("ALARM_ARN", "PLAN_DIGEST", "PLAN_FILE")})


@pytest.mark.parametrize("digest", ["", "abc", PLAN.digest().upper(), PLAN.digest() + "0", "sha256:" + PLAN.digest()])
def test_a_malformed_digest_is_refused(digest: str) -> None:
    with pytest.raises(ConfigurationError, match="PLAN_DIGEST is not a SHA-256 hex digest"):
        Settings.from_env({**PLAN_ENV, "PLAN_DIGEST": digest})


def test_a_plan_file_that_does_not_match_the_digest_is_refused(tmp_path: Path) -> None:
    # Given a packaged plan edited after the stack was deployed (its IAM was derived from the original)
    edited = {**PLAN_DOCUMENT, "rails": {**PLAN_DOCUMENT["rails"], "maxReplicaLagSeconds": 3600}}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(edited))
    # Then the functions refuse it, and say how to ship plan and stack together
    with pytest.raises(ConfigurationError, match="is not the plan this stack was deployed with") as raised:
        Settings.from_env({**PLAN_ENV, "PLAN_FILE": str(plan_file)})
    assert "regionshift plan deploy" in str(raised.value) and str(plan_file) in str(raised.value)


def test_a_plan_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        Settings.from_env({**PLAN_ENV, "PLAN_FILE": str(tmp_path / "absent.json")})


@pytest.mark.parametrize(
    ("rails", "message"),
    [
        ({"promotionMaxPolls": 700}, f"beyond the {EXECUTION_TIMEOUT_SECONDS} s execution timeout"),
        ({"lockLeaseSeconds": 600}, "shorter than the longest run"),
        ({"healthyCheckerPercent": 0}, "healthyCheckerPercent"),
        ({"confirmProbes": "many"}, "confirmProbes"),
    ],
)
def test_an_invalid_plan_with_its_own_digest_is_refused(tmp_path: Path, rails: dict[str, object], message: str) -> None:
    # Given a plan file that matches its digest but breaks a rule of the plan
    content = json.dumps({**PLAN_DOCUMENT, "rails": {**PLAN_DOCUMENT["rails"], **rails}}).encode()
    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(content)
    env = {**PLAN_ENV, "PLAN_FILE": str(plan_file), "PLAN_DIGEST": digest_of(content)}
    with pytest.raises(ConfigurationError, match="invalid plan") as raised:
        Settings.from_env(env)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TABLE_ARN", "arn:aws:s3:::not-a-table"),
        ("TOPIC_ARN", "regionshift"),
        ("REPORT_BUCKET", "Bad_Bucket"),
        ("REPORT_BASE_URL", "http://insecure.example.com"),
    ],
)
def test_a_malformed_stack_setting_is_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"(?s)invalid stack configuration: .*{name.lower()}"):
        Settings.from_env({**PLAN_ENV, name: value})


def test_the_test_environment_loads_the_test_plan() -> None:
    settings = Settings.from_env(PLAN_ENV)
    assert settings.plan == PLAN and settings.plan.digest() == PLAN_ENV["PLAN_DIGEST"]


def test_the_default_rails_fit_the_run_budget() -> None:
    # One round of the promotion Map (up to PROMOTION_CONCURRENCY databases) and two rounds (up to 50)
    for rounds in (1, 2):
        assert Rails().longest_run_seconds(rounds) + Rails().reevaluate_interval_seconds <= EXECUTION_TIMEOUT_SECONDS
        assert Rails().lock_lease_seconds >= Rails().longest_run_seconds(rounds)
