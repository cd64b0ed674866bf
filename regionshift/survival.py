"""Which region losses a deployed plan survives: the verdict ``regionshift check`` prints, read from the
recovery path's inventory (README, "The recovery path").

A failover has three needs, and each has its own dependencies:

* **detection**: the Route 53 alarm needs us-east-1 (``HealthCheckStatus`` exists only there, and so
  does the detector); the stack region's probes need the stack region and a ``probeUrl`` on the primary;
* **decision**: Route 53's checker votes need its API (us-east-1); without it, Assess and TargetHealth
  read the probes, which need a ``probeUrl`` on the primary and on the target;
* **traffic**: upsert mode needs Route 53's API (us-east-1); data-plane mode needs only the stack
  region's CloudWatch (Route 53's health checkers and DNS answers are a global data plane).

Everything runs in the stack region: losing it loses the orchestrator. Losing a standby (not the stack
region) needs no failover.
"""

from dataclasses import dataclass

from failover.plan import Plan
from failover.runtime import ROUTE53_REGION


@dataclass(frozen=True)
class Loss:
    region: str
    survived: bool
    why: str


def losses(plan: Plan, stack_region: str) -> list[Loss]:
    """One verdict per region whose loss matters: each region of the plan, and us-east-1."""
    regions = list(dict.fromkeys([*plan.region_names, ROUTE53_REGION]))
    return [_loss(plan, stack_region, region) for region in regions]


def _loss(plan: Plan, stack_region: str, lost: str) -> Loss:
    if lost == stack_region:
        return Loss(lost, False, "the orchestrator (state machine, functions, run table) runs there")
    gaps = _gaps(plan, route53_lost=lost == ROUTE53_REGION)
    if lost != plan.primary_region:
        # The primary keeps serving: nothing has to move while the region is gone.
        meanwhile = f"; a failover meanwhile would lack {'; '.join(gaps)}" if gaps else ""
        return Loss(lost, True, f"the primary keeps serving{meanwhile}")
    if gaps:
        return Loss(lost, False, "the primary; a run would lack " + "; ".join(gaps))
    how = "probes and the data-plane switch" if lost == ROUTE53_REGION else "the Route 53 alarm and checker votes"
    return Loss(lost, True, f"the primary: detected, decided and moved with {how}")


def _gaps(plan: Plan, route53_lost: bool) -> list[str]:
    """What a failover would lack while Route 53's API and alarm are out of reach."""
    if not route53_lost:
        return []
    probed = plan.probed_regions
    gaps = []
    if plan.primary_region not in probed:
        gaps.append("detection (the Route 53 alarm is in us-east-1: give the primary a probeUrl)")
    if plan.primary_region not in probed or not any(r in probed for r in plan.standby_regions):
        gaps.append("a decision (checker votes come from Route 53's API: give the regions probeUrls)")
    if plan.traffic.mode == "upsert":
        gaps.append("a way to move traffic (upsert mode changes records through Route 53's API: use data-plane)")
    return gaps


# Control-plane calls (creating, describing or changing a resource) of the recovery path, by IAM action
# or service prefix; every other call is data plane (the resource's own work: an item, a message, a
# metric), in the sense of "AWS Fault Isolation Boundaries" (control planes and data planes). README's
# recovery-path table says the same per row (tests/integration/test_iam.py keeps the two equal).
CONTROL_PLANE = frozenset(
    {
        "route53",
        "rds",
        "elasticache",
        "dynamodb:DescribeTable",
        "states:GetExecutionHistory",
        "cloudwatch:PutMetricAlarm",
    }
)


def plane(action: str) -> str:
    """``control`` or ``data`` for an IAM action such as ``route53:ChangeResourceRecordSets``."""
    return "control" if action in CONTROL_PLANE or action.split(":")[0] in CONTROL_PLANE else "data"
