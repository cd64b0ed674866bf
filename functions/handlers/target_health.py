"""Lambda entry point of the target health step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.target_health import target_health

handler = lambda_step(RunDocument, target_health)
