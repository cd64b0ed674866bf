"""Lambda entry point of the dns status step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.dns_status import dns_status

handler = lambda_step(RunDocument, dns_status)
