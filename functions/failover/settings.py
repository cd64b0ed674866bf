"""The plan, read from the function's environment through a validated model.

Every variable is required: a missing or malformed one fails the step loudly with
``ConfigurationError`` instead of falling back to a guess.
"""

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from failover.errors import ConfigurationError

REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
# A hostname label: letters, digits, hyphens; no wildcard, no empty label.
LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

Region = Annotated[str, Field(pattern=REGION_RE.pattern)]
# The state machine's TimeoutSeconds: a run must finish inside it (a test keeps the two equal).
EXECUTION_TIMEOUT_SECONDS = 3600
# Time a run needs besides its waits: invocations, retries' backoff, rollback and notification.
RUN_OVERHEAD_SECONDS = 300
PositiveInt = Annotated[int, Field(ge=1)]
# A bound on what one run moves, so that its document stays well inside Step Functions' payload limit.
MAX_RECORDS = 50


def normalise_record_name(name: str) -> str:
    """Lower-case, drop the trailing dot, and reject wildcards or malformed names."""
    if not isinstance(name, str):
        raise ValueError("record name must be a string")
    cleaned = name.strip().lower().removesuffix(".")
    labels = cleaned.split(".")
    if len(cleaned) > 253 or len(labels) < 2 or not all(LABEL_RE.match(label) for label in labels):
        raise ValueError(f"malformed or wildcard record name: {name!r}")
    return cleaned


class Settings(BaseModel):
    """One failover plan: which database and records move from which region to which."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    plan_name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    primary_region: Region
    standby_region: Region
    primary_db_identifier: Annotated[str, Field(min_length=1)]
    standby_db_identifier: Annotated[str, Field(min_length=1)]
    hosted_zone_id: Annotated[str, Field(pattern=r"^(/hostedzone/)?[A-Z0-9]+$")]
    record_names: tuple[str, ...]
    standby_targets: tuple[str, ...]
    primary_health_check_id: Annotated[str, Field(min_length=1)]
    standby_health_check_id: Annotated[str, Field(min_length=1)]
    alarm_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:cloudwatch:")]
    topic_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:sns:")]
    table_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]{3,255}$")]
    healthy_checker_percent: Annotated[int, Field(ge=1, le=100)]
    confirm_probes: Annotated[int, Field(ge=0, le=10)]
    confirm_interval_seconds: PositiveInt
    max_replica_lag_seconds: Annotated[int, Field(ge=0)]
    max_event_age_seconds: PositiveInt
    lock_lease_seconds: PositiveInt
    cooldown_seconds: Annotated[int, Field(ge=0)]
    promotion_poll_seconds: PositiveInt
    promotion_max_polls: PositiveInt
    dns_poll_seconds: PositiveInt
    dns_max_polls: PositiveInt
    # The stack's bucket, where Finalize writes each run's report (S3 bucket naming rules, "General
    # purpose bucket naming rules", Amazon S3 User Guide).
    report_bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    # Where notifications link the reports: empty (set explicitly in the template; not a silent
    # default) links them in the bucket; a URL overrides that, e.g. a CloudFront distribution in
    # front of the bucket's report prefix.
    report_base_url: Annotated[str, Field(pattern=r"^$|^(https|s3)://\S+$")]
    # An alarm run refused for a passing reason, or rolled back, is looked at again this often, this
    # many times: the alarm stays in ALARM and sends no new event.
    reevaluate_interval_seconds: PositiveInt
    reevaluate_max_attempts: Annotated[int, Field(ge=0, le=24)]

    @field_validator("record_names", "standby_targets", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("record_names")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(normalise_record_name(n) for n in value)
        if not names:
            raise ValueError("at least one record name is required")
        if len(names) > MAX_RECORDS:
            raise ValueError(f"at most {MAX_RECORDS} records per plan (the run document must stay far below 256 KiB)")
        if len(set(names)) != len(names):
            raise ValueError("record names must be unique")
        return names

    @field_validator("standby_targets")
    @classmethod
    def _targets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalise_record_name(t) for t in value)

    @model_validator(mode="after")
    def _coherent(self) -> "Settings":
        if self.primary_region == self.standby_region:
            raise ValueError("primary and standby regions must differ")
        if len(self.record_names) != len(self.standby_targets):
            raise ValueError("each record name needs exactly one standby target")
        longest = self.longest_run_seconds
        if longest > EXECUTION_TIMEOUT_SECONDS:
            raise ValueError(
                f"confirmation, promotion and DNS waits add up to {longest} s, beyond the "
                f"{EXECUTION_TIMEOUT_SECONDS} s execution timeout: lower the polls or intervals"
            )
        if longest + self.reevaluate_interval_seconds > EXECUTION_TIMEOUT_SECONDS:
            raise ValueError(
                f"the longest run ({longest} s) and the wait before a re-evaluation "
                f"({self.reevaluate_interval_seconds} s) must fit in the "
                f"{EXECUTION_TIMEOUT_SECONDS} s execution timeout"
            )
        if self.lock_lease_seconds < longest:
            raise ValueError(
                f"the lock lease ({self.lock_lease_seconds} s) is shorter than the longest run ({longest} s)"
            )
        return self

    @property
    def longest_run_seconds(self) -> int:
        return (
            # the outage is confirmed, then the standby may be looked at as often after the promotion
            2 * self.confirm_probes * self.confirm_interval_seconds
            + self.promotion_max_polls * self.promotion_poll_seconds
            + self.dns_max_polls * self.dns_poll_seconds
            + RUN_OVERHEAD_SECONDS
        )

    @property
    def records(self) -> dict[str, str]:
        """Record name -> the target it must point to after failover."""
        return dict(zip(self.record_names, self.standby_targets, strict=True))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        return _load(tuple(sorted(env.items())))


@lru_cache(maxsize=8)
def _load(items: tuple[tuple[str, str], ...]) -> Settings:
    env = dict(items)
    values = {name: env.get(name.upper()) for name in Settings.model_fields}
    missing = sorted(name.upper() for name, value in values.items() if value is None)
    if missing:
        raise ConfigurationError(f"missing environment variables: {', '.join(missing)}")
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid plan configuration: {exc}") from exc
