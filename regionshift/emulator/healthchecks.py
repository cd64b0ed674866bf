"""Route 53 health checks that follow a CloudWatch alarm (``Type: CLOUDWATCH_METRIC``), over moto's.

moto 5.2.5 stores such a check but drops its ``AlarmIdentifier`` and ``InsufficientDataHealthStatus``
(its CreateHealthCheck reads neither) and answers every GetHealthCheckStatus with one ``Success``.
``create_health_check`` (replacing moto's response method, ``patches.PATCHES``) validates what Route 53
validates for that type and keeps both fields on moto's health check; ``health_check_config`` (replacing
moto's property) returns them; ``metric_check_healthy`` is the check's status, from its alarm.

"CLOUDWATCH_METRIC: The health check is associated with a CloudWatch alarm. If the state of the alarm is
OK, the health check is considered healthy. If the state is ALARM, the health check is considered
unhealthy. If CloudWatch doesn't have sufficient data to determine whether the state is OK or ALARM, the
health check status depends on the setting for InsufficientDataHealthStatus" (Route 53 API Reference,
HealthCheckConfig: https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html).
"""

from collections.abc import Callable
from typing import Any

from regionshift.emulator.patches import ACCOUNT

METRIC_TYPE = "CLOUDWATCH_METRIC"
# botocore's route53 model, shape InsufficientDataHealthStatus.
INSUFFICIENT_DATA_STATUSES = ("Healthy", "Unhealthy", "LastKnownStatus")
# "LastKnownStatus: By default, Route 53 uses the status of the health check from the last time CloudWatch
# had sufficient data" (API Reference, UpdateHealthCheck, InsufficientDataHealthStatus): the status of a
# check created without one.
DEFAULT_INSUFFICIENT_DATA_STATUS = "LastKnownStatus"
# The alarm states that are "sufficient data" (CloudWatch's StateValue is OK, ALARM or INSUFFICIENT_DATA).
DECIDED = ("OK", "ALARM")
# Route 53's global partition in moto's backends.
PARTITION = "aws"


def invalid_metric_check(config: dict[str, Any]) -> str | None:
    """The ``InvalidInput`` message for a CLOUDWATCH_METRIC HealthCheckConfig Route 53 refuses, if any:
    an AlarmIdentifier with its Region and Name ("Required: Yes" for both, API Reference,
    AlarmIdentifier), and an InsufficientDataHealthStatus from the enum. The wording is the emulator's."""
    alarm = config.get("AlarmIdentifier")
    if not isinstance(alarm, dict) or not alarm.get("Region") or not alarm.get("Name"):
        return "A health check of type CLOUDWATCH_METRIC requires AlarmIdentifier with Region and Name"
    status = config.get("InsufficientDataHealthStatus")
    if status is not None and status not in INSUFFICIENT_DATA_STATUSES:
        return f"InsufficientDataHealthStatus {status!r} is not one of {', '.join(INSUFFICIENT_DATA_STATUSES)}"
    return None


def create_health_check(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto's Route53 response class' create_health_check, keeping a metric check's alarm and data policy."""

    def create(response: Any) -> Any:
        from moto.route53.exceptions import InvalidInput

        config = response._get_param("HealthCheckConfig")
        metric = config.get("Type") == METRIC_TYPE
        if metric:
            message = invalid_metric_check(config)
            if message is not None:
                raise InvalidInput(message)
        result = original(response)
        if metric:
            check = result.result["HealthCheck"]
            alarm = config["AlarmIdentifier"]
            check.alarm_identifier = {"Region": alarm["Region"], "Name": alarm["Name"]}
            check.insufficient_data_health_status = config.get(
                "InsufficientDataHealthStatus", DEFAULT_INSUFFICIENT_DATA_STATUS
            )
        return result

    return create


def health_check_config(original: property) -> property:
    """moto's HealthCheck.health_check_config, with a metric check's AlarmIdentifier and
    InsufficientDataHealthStatus (GetHealthCheck, ListHealthChecks)."""

    def config(check: Any) -> dict[str, Any]:
        found: dict[str, Any] = original.fget(check) if original.fget else {}
        if check.type_ == METRIC_TYPE:
            found["AlarmIdentifier"] = dict(check.alarm_identifier)
            found["InsufficientDataHealthStatus"] = check.insufficient_data_health_status
        return found

    return property(config)


def metric_status(states: list[str], insufficient: str) -> bool:
    """Whether a metric check is healthy, given the alarm states Route 53 has seen, oldest first, the
    current one last (``INSUFFICIENT_DATA`` when the alarm cannot be read: missing, or its region lost).

    With ``LastKnownStatus`` the status is the one from the last decided state; "For new health checks
    that have no last known status, the default status for the health check is healthy" (API Reference,
    HealthCheckConfig, InsufficientDataHealthStatus).
    """
    current = states[-1] if states else "INSUFFICIENT_DATA"
    if current in DECIDED:
        return current == "OK"
    if insufficient == "Healthy":
        return True
    if insufficient == "Unhealthy":
        return False
    decided = [s for s in states if s in DECIDED]
    return decided[-1] == "OK" if decided else True


def metric_check_healthy(check_id: str, is_down: Callable[[str], bool]) -> bool | None:
    """A CLOUDWATCH_METRIC check's status now, from its alarm as moto holds it (None: no such check, or
    another type). A lost alarm region reads as insufficient data: the alarm keeps the state it had
    (nothing evaluates it), and Route 53 cannot read it.

    ``Disabled``: "Route 53 considers the status of the health check to always be healthy"; ``Inverted``
    inverts the status (API Reference, HealthCheckConfig).
    """
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.route53.models import route53_backends

    # moto's HealthCheck, with the two attributes create_health_check adds to a metric check.
    check: Any = route53_backends[ACCOUNT][PARTITION].health_checks.get(check_id)
    if check is None or check.type_ != METRIC_TYPE:
        return None
    if check.disabled:
        return True
    region, name = check.alarm_identifier["Region"], check.alarm_identifier["Name"]
    alarm = cloudwatch_backends[ACCOUNT][region].alarms.get(name)
    # moto's alarm history keeps each state an update left (("StateUpdate", reason, data, state, time)).
    states = [] if alarm is None else [h[3] for h in alarm.history if h[0] == "StateUpdate"] + [alarm.state_value]
    if alarm is None or is_down(region):
        states.append("INSUFFICIENT_DATA")
    return metric_status(states, check.insufficient_data_health_status) != bool(check.inverted)
