"""Lambda entry point of the fence step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.fence import fence

handler = lambda_step(RunDocument, fence)
