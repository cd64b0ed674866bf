"""Lambda entry point of the finalize step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.finalize import finalize

handler = lambda_step(RunDocument, finalize)
