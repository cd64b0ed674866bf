"""The shape every Lambda handler shares: Powertools decorators, parse, one step, dump."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from failover import clock, runtime
from failover.errors import RegionshiftError, StepFailedError
from failover.models import CAUSE_LIMIT, Model, clip_text
from failover.observability import logger, metrics, tracer

# Room is left for the rest of Lambda's error document (type, request id, stack trace).
MESSAGE_LIMIT = CAUSE_LIMIT // 2

type Step[InputT: BaseModel] = Callable[[InputT, runtime.Runtime, datetime], Model]
type Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def lambda_step[InputT: BaseModel](model: type[InputT], step: Step[InputT]) -> Handler:
    """Build the Lambda entry point of ``step``, whose input is parsed into ``model``."""

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            parsed = model.model_validate(event)
            execution = getattr(parsed, "execution", None)
            if execution is not None:
                logger.append_keys(execution=execution.id)
            # Retries of AWS calls stop short of the invocation's timeout (failover.clients.retrying).
            with clock.deadline(lambda: context.get_remaining_time_in_millis() / 1000):
                rt = runtime.current()
                # The plan as the estate stood when the run started (Intake's reading), for every step.
                intake = getattr(parsed, "intake", None)
                rt.direct(getattr(intake, "direction", None))
                return step(parsed, rt, clock.now()).wire()
        except Exception as exc:
            # The message becomes the Catch's Cause, carried in the run document: keep it bounded.
            message = str(exc)
            if len(message.encode("utf-8")) <= MESSAGE_LIMIT:
                raise
            logger.exception("step failed with a long message; the Cause carries it clipped")
            clipped = clip_text(message, MESSAGE_LIMIT)
            # A domain error keeps its name (the ASL retries and catches by it); anything else is a
            # fault of ours, whose name no Retry names: StepFailedError says what it was.
            if isinstance(exc, RegionshiftError):
                raise type(exc)(clipped) from exc
            raise StepFailedError(f"{type(exc).__name__}: {clipped}") from exc

    handler.__name__ = f"{step.__name__}_handler"
    return handler
