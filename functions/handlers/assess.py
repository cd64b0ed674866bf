"""Lambda entry point of the assess step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.assess import assess

handler = lambda_step(RunDocument, assess)
