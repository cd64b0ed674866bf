"""Watch: after the writers moved, point detection at the region that holds them now.

The Route 53 health-check alarm (``AlarmName`` in ``AlarmRegion``) and the probe alarm (in the stack
region) watch the primary's health. Once a run has moved the writers, the old primary's health no
longer says anything about them, and a failure of the new primary must start the next run: each alarm
is made to watch the new primary (its health check, its probe results), every other setting kept. A
person changing the alarms by hand, or CloudFormation reverting them, is shown by `regionshift check`
(docs/failback.md). A failure is recorded and the page says what to point by hand: it never changes
the outcome.
"""

from datetime import datetime

from failover.clients import is_unreachable
from failover.errors import TransientAwsError
from failover.models import FENCE_NOTE_LIMIT, AlarmWatch, RunDocument, WatchResult, clip_text
from failover.observability import logger
from failover.runtime import Runtime, region_of


def watch(doc: RunDocument, rt: Runtime, now: datetime) -> WatchResult:
    target = doc.assess.target if doc.assess else None
    if target is None or not doc.promoted:
        return WatchResult(at=now)  # nothing moved: detection stays as it is
    plan = rt.plan
    # (alarm ARN, dimension, the new primary's value, why it cannot watch it)
    wanted: list[tuple[str, str, str, str | None]] = [
        (rt.settings.alarm_arn, "HealthCheckId", plan.health_check(target), None)
    ]
    if rt.settings.probe_alarm_arn:
        # The probe records only regions with a probeUrl: an alarm on another region would have no data.
        no_probe = None if target in plan.probed_regions else f"{target} has no probeUrl: the probe cannot watch it"
        wanted.append((rt.settings.probe_alarm_arn, "Region", target, no_probe))
    alarms = []
    for arn, dimension, value, refused in wanted:
        region, name = region_of(arn), arn.split(":alarm:", 1)[1]
        if refused:
            alarms.append(AlarmWatch(alarm=name, region=region, note=refused))
            continue
        try:
            before = rt.cloudwatch(region).watch(name, dimension, value)
        except TransientAwsError as exc:
            if not is_unreachable(exc):
                raise  # a throttle: the state machine retries the step (writing the same alarm again is harmless)
            logger.warning("alarm not re-pointed", extra={"alarm": name, "error": str(exc)})
            note = clip_text(f"{region} did not answer: point it at {value} when it does ({exc})", FENCE_NOTE_LIMIT)
            alarms.append(AlarmWatch(alarm=name, region=region, note=note))
            continue
        if before is None:
            alarms.append(AlarmWatch(alarm=name, region=region, note=f"no alarm {name} in {region}"))
        else:
            alarms.append(
                AlarmWatch(alarm=name, region=region, before=before, after=None if before == value else value)
            )
    return WatchResult(at=now, primary=target, alarms=alarms)
