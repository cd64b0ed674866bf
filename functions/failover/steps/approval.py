"""Approval: record the run's task token and page the team; the run then waits for the answer."""

from datetime import datetime

from failover import approval
from failover.models import ApprovalInput, ApprovalRequested
from failover.runtime import Runtime


def request_approval(inp: ApprovalInput, rt: Runtime, now: datetime) -> ApprovalRequested:
    req = approval.request(inp.execution.id, inp.token, inp.intake, inp.assess, now)
    # Recorded before the page: whoever reads the page finds the request to answer.
    rt.store.request_approval(req)
    text = approval.body(req, inp.intake, inp.assess, rt.settings)
    message_id = rt.sns.publish(
        rt.settings.topic_arn, approval.subject(rt.settings, inp.assess), text, approval.PAGE_KIND
    )
    return ApprovalRequested(at=now, deadline=req.deadline, message_id=message_id)
