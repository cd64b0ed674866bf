"""What can start a run: the alarm's EventBridge event, or an operator's manual input.

Only Intake reads these, so only its handler pays for importing the EventBridge parser models.
"""

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from failover.plan import REGION_PATTERN, normalise_name


class AlarmState(BaseModel):
    value: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    reason: str | None = None
    timestamp: datetime | None = None


class AlarmDetail(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    alarm_name: str
    state: AlarmState
    previous_state: AlarmState | None = None


class AlarmEvent(EventBridgeModel):
    """An EventBridge ``CloudWatch Alarm State Change`` event."""

    source: Literal["aws.cloudwatch"]  # type: ignore[assignment]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")  # type: ignore[assignment]
    detail: AlarmDetail  # type: ignore[assignment]
    # A time without a zone cannot be compared with the clock: refused, not guessed.
    time: AwareDatetime  # type: ignore[assignment]


class ManualTrigger(BaseModel):
    """What an operator passes to start a run by hand (a drill or a planned switch).

    The optional ``sourceRegion`` / ``targetRegion`` / ``replica`` / ``records`` fields are
    assertions: a run refuses when they disagree with the deployed plan, so an operator cannot move
    the wrong thing by mistake.
    """

    # Strict: "yes" or 1 is not a boolean here; an operator's intent must be unambiguous.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True)

    operator: Annotated[str, Field(min_length=1, max_length=128)]
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
    dry_run: bool = False
    accept_data_loss: bool = False
    bypass_cooldown: bool = False
    # A planned move with no data loss (maintenance, a production drill): needs ``targetRegion``.
    switchover: bool = False
    source_region: Annotated[str, Field(pattern=REGION_PATTERN)] | None = None
    target_region: Annotated[str, Field(pattern=REGION_PATTERN)] | None = None
    replica: Annotated[str, Field(min_length=1)] | None = None
    records: list[str] | None = None

    @field_validator("operator", "reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("records")
    @classmethod
    def _records(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [normalise_name(n) for n in value]

    @model_validator(mode="after")
    def _switchover(self) -> "ManualTrigger":
        if self.switchover and self.accept_data_loss:
            # A switchover moves the writer only once nothing can be lost: there is nothing to accept.
            raise PydanticCustomError(
                "switchover",
                "a switchover loses no data: acceptDataLoss does not apply (an outage is a failover, not a switchover)",
            )
        if self.switchover and not self.target_region:
            raise PydanticCustomError("switchover", "a switchover names the region it moves to (targetRegion)")
        return self
