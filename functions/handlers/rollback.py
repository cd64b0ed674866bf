"""Lambda entry point of the rollback step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.rollback import rollback

handler = lambda_step(RunDocument, rollback)
