"""Notify: tell the team the outcome, the reason and what changed."""

from datetime import datetime

from failover import notification
from failover.models import NotifyResult, RunDocument
from failover.runtime import Runtime


def notify(doc: RunDocument, rt: Runtime, now: datetime) -> NotifyResult:
    assert doc.result is not None
    subject = notification.subject(doc, rt.settings)
    body = notification.body(doc, rt.settings)
    message_id = rt.sns.publish(rt.settings.topic_arn, subject, body, doc.result.outcome)
    return NotifyResult(published=True, message_id=message_id, subject=subject)
