"""Lambda entry point of the finalize step."""

from failover import steps
from failover.handler import lambda_step
from failover.models import RunDocument

handler = lambda_step(RunDocument, steps.finalize)
