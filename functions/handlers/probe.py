"""Lambda entry point of the probe (run by its schedule, not by the state machine)."""

from failover.entrypoint import lambda_step
from failover.models import ProbeInput
from failover.steps.probe import probe

handler = lambda_step(ProbeInput, probe)
