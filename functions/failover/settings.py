"""The stack's settings, read from the function's environment through a validated model, and the plan
they name (``plan.json`` in the code package, checked against the digest the stack was deployed with).

Every variable is required: a missing or malformed one fails the step loudly with
``ConfigurationError`` instead of falling back to a guess.
"""

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from failover.errors import ConfigurationError
from failover.plan import Plan, digest_of

# Where a relative PLAN_FILE is found: the code package's root (LAMBDA_TASK_ROOT in Lambda).
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


class Settings(BaseModel):
    """What the stack gives every function: where its own resources are, and which plan it runs."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    plan: Plan
    alarm_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:cloudwatch:")]
    # The stack region's alarm on the primary's probe results (standby-side detection); empty (set
    # explicitly by the template, not a default) when the plan gives the primary no probeUrl.
    probe_alarm_arn: Annotated[str, Field(pattern=r"^$|^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")]
    # Data-plane mode: the stack's serving health checks, "<primary's>,<standby's>" (empty otherwise):
    # Assess refuses failover pairs guarded by any other check.
    serving_check_ids: Annotated[str, Field(pattern=r"^$|^[0-9a-fA-F-]{36},[0-9a-fA-F-]{36}$")]

    @property
    def serving_pair(self) -> tuple[str | None, str | None]:
        """(primary's, standby's) serving check ids, or (None, None)."""
        primary, _, standby = self.serving_check_ids.partition(",")
        return primary or None, standby or None

    topic_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:sns:")]
    table_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]{3,255}$")]
    # The stack's bucket, where Finalize writes each run's report (S3 bucket naming rules, "General
    # purpose bucket naming rules", Amazon S3 User Guide).
    report_bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    # Where notifications link the reports: empty (set explicitly in the template; not a silent
    # default) links them in the bucket; a URL overrides that, e.g. a CloudFront distribution in
    # front of the bucket's report prefix.
    report_base_url: Annotated[str, Field(pattern=r"^$|^(https|s3)://\S+$")]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return _load(tuple(sorted(env.items())))


@lru_cache(maxsize=8)
def _load(items: tuple[tuple[str, str], ...]) -> Settings:
    env = dict(items)
    names = [name.upper() for name in Settings.model_fields if name != "plan"] + ["PLAN_FILE", "PLAN_DIGEST"]
    missing = sorted(name for name in names if env.get(name) is None)
    if missing:
        raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
    if not DIGEST_RE.match(env["PLAN_DIGEST"]):
        raise ConfigurationError("invalid stack configuration: PLAN_DIGEST is not a SHA-256 hex digest")
    values = {name: env[name.upper()] for name in Settings.model_fields if name != "plan"}
    try:
        return Settings.model_validate({**values, "plan": load_plan(env["PLAN_FILE"], env["PLAN_DIGEST"])})
    except ValidationError as exc:
        raise ConfigurationError(f"invalid stack configuration: {exc}") from exc


@lru_cache(maxsize=8)
def load_plan(plan_file: str, digest: str) -> Plan:
    """The packaged plan; refused when it is not the one the stack was deployed with (its IAM and
    alarms were derived from that plan, so a different one would act beyond them)."""
    path = Path(plan_file)
    path = path if path.is_absolute() else PACKAGE_ROOT / path
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"the plan file {path} cannot be read: {exc}") from exc
    if digest_of(content) != digest:
        raise ConfigurationError(
            f"the plan file {path} is not the plan this stack was deployed with (PlanDigest {digest[:12]}…): "
            "deploy plan and stack together with `regionshift plan deploy`"
        )
    try:
        return Plan.model_validate_json(content)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid plan {path}: {exc}") from exc
