"""Lambda entry point of the update dns step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.update_dns import update_dns

handler = lambda_step(RunDocument, update_dns)
