"""Lambda entry point of the intake step."""

from failover import steps
from failover.handler import lambda_step
from failover.models import IntakeInput

handler = lambda_step(IntakeInput, steps.intake)
