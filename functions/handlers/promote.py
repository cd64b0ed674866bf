"""Lambda entry point of the promote step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.promote import promote

handler = lambda_step(RunDocument, promote)
