"""Lambda entry point of the promote step."""

from failover import steps
from failover.handler import lambda_step
from failover.models import RunDocument

handler = lambda_step(RunDocument, steps.promote)
