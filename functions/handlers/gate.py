"""Lambda entry point of the gate step."""

from failover.entrypoint import lambda_step
from failover.models import RunDocument
from failover.steps.gate import gate

handler = lambda_step(RunDocument, gate)
