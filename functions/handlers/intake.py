"""Lambda entry point of the intake step."""

from failover.entrypoint import lambda_step
from failover.models import IntakeInput
from failover.steps.intake import intake

handler = lambda_step(IntakeInput, intake)
