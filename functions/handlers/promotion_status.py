"""Lambda entry point of the promotion status step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.promotion_status import promotion_status

handler = lambda_step(RunDocument, promotion_status)
