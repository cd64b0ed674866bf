"""Lambda entry point of the watch step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.watch import watch

handler = lambda_step(RunDocument, watch)
