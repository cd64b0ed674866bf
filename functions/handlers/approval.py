"""Lambda entry point of the approval step (invoked by a waitForTaskToken task)."""

from failover.entrypoint import lambda_step
from failover.models import ApprovalInput
from failover.steps.approval import request_approval

handler = lambda_step(ApprovalInput, request_approval)
