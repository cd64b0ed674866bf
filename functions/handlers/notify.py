"""Lambda entry point of the notify step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.notify import notify

handler = lambda_step(RunDocument, notify)
