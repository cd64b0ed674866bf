"""Standby-side detection: the stack region's own look at each region's application endpoint.

Route 53's health-check metrics exist only in us-east-1, so when us-east-1 is the region that fails,
the Route 53 alarm cannot fire. The probe (``steps/probe.py``, once a minute in the stack region) GETs
every ``probeUrl`` of the plan and records one ``EndpointHealthy`` datapoint per region in the stack
region's CloudWatch; the ProbeAlarm watches the primary's, and ``ProbeVotes.votes`` reads them back as
votes, for a run to weigh like Route 53's checker votes. Nothing here needs the probed region or
us-east-1 to answer.

The HTTP transport is a seam (``use``): the emulator answers probes from a scenario's health timeline.
"""

import http.client
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from failover.clients import CallKind, call
from failover.errors import TransientAwsError
from failover.models import CheckerVotes
from failover.observability import NAMESPACE

METRIC = "EndpointHealthy"
# One datapoint per probe round and region; the alarm and the reader both count in one-minute periods.
PERIOD_SECONDS = 60
# The reader's window: the last two probe rounds of each vantage (a third when one lands on the edge).
# One round alone would let a single lost packet decide; two are still fresh enough for a run that
# re-probes every confirmIntervalSeconds. A region turns UNHEALTHY only when (nearly) every result in
# the window fails, and HEALTHY again with its first good round: slow to fail over, quick to stand down.
WINDOW_SECONDS = 2 * PERIOD_SECONDS


def probe_alarm(plan_name: str) -> str:
    """The alarm on the primary's probe results (template.yaml's ProbeAlarm names it the same way)."""
    return f"regionshift-{plan_name}-probe-unhealthy"


# Route 53's HTTP(S) health checkers judge an endpoint this way, and the probe the same, so that both
# signals agree: a TCP connection within four seconds, then an HTTP status of 2xx or 3xx within two
# seconds; an HTTPS check does not validate the certificate ("How Amazon Route 53 determines whether
# a health check is healthy", https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html).
CONNECT_TIMEOUT_SECONDS = 4.0
READ_TIMEOUT_SECONDS = 2.0
# Names the probe in the application's access logs.
AGENT = "Regionshift-Probe/1 (standby-side health probe)"


def healthy_status(status: int) -> bool:
    """2xx or 3xx, as Route 53 counts it ("HealthCheckConfig", Type HTTPS: a status of 200 or greater
    and less than 400). A redirect is not followed: its status is the answer."""
    return 200 <= status < 400


# (url, connect timeout, read timeout) -> the HTTP status. No answer in time raises OSError (a
# timeout, a refused or reset connection, a TLS failure) or http.client.HTTPException (not HTTP).
type Transport = Callable[[str, float, float], int]


def https_status(url: str, connect_timeout: float, read_timeout: float) -> int:
    """GET ``url`` and return its status, without following a redirect or reading the body.

    The certificate is not verified, as Route 53 does not verify it: the probe sends nothing secret and
    reads only the status, and a spoofed answer can only make a region look healthy, which holds a
    failover back (the safe direction).
    """
    parts = urlsplit(url)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # Route 53's rule, see above
    connection = http.client.HTTPSConnection(
        parts.hostname or "", parts.port or 443, timeout=connect_timeout, context=context
    )
    try:
        connection.connect()
        assert connection.sock is not None
        connection.sock.settimeout(read_timeout)
        path = parts.path or "/"
        connection.request("GET", f"{path}?{parts.query}" if parts.query else path, headers={"User-Agent": AGENT})
        return connection.getresponse().status
    finally:
        connection.close()


_transport: Transport = https_status


def use(transport: Transport | None) -> None:
    """Replace the HTTP transport (``None`` restores ``https_status``): the emulator's seam."""
    global _transport
    _transport = transport or https_status


def transport() -> Transport:
    return _transport


@dataclass(frozen=True)
class ProbeResult:
    region: str
    healthy: bool


def dimensions(plan: str, region: str, vantage: str) -> list[dict[str, str]]:
    """The datapoint's dimensions: the plan, the probed region and the region the probe ran in."""
    return [{"Name": "Plan", "Value": plan}, {"Name": "Region", "Value": region}, {"Name": "Vantage", "Value": vantage}]


class ProbeVotes:
    """``EndpointHealthy`` in the stack region's CloudWatch: written by the probe, read as votes.

    Every vantage is read with all three dimensions, as GetMetricStatistics requires of a metric with
    dimensions ("GetMetricStatistics", Amazon CloudWatch API Reference); the vantages are the regions
    the stack runs a probe in (today the stack region alone). ListMetrics would find them without
    being told, but a new metric can take up to fifteen minutes to be listed (PutMetricData, same
    reference), and it would be one more grant for the readers.
    """

    def __init__(self, client: Any, plan: str, vantages: tuple[str, ...]) -> None:
        self._client = client
        self._plan = plan
        self._vantages = vantages

    def record(self, vantage: str, results: list[ProbeResult], at: datetime) -> None:
        """One datapoint per probed region (1 healthy, 0 not), in one PutMetricData request (up to
        1,000 datapoints a request, "PutMetricData", Amazon CloudWatch API Reference; a plan has at
        most 9 regions)."""
        data = [
            {
                "MetricName": METRIC,
                "Dimensions": dimensions(self._plan, r.region, vantage),
                "Timestamp": at,
                "Value": 1.0 if r.healthy else 0.0,
                "Unit": "Count",
            }
            for r in results
        ]
        call(
            CallKind.WRITE,
            TransientAwsError,
            f"PutMetricData {NAMESPACE} {METRIC}",
            lambda: self._client.put_metric_data(Namespace=NAMESPACE, MetricData=data),
        )

    def votes(self, region: str, now: datetime, healthy_percent: int) -> CheckerVotes:
        """The probe results for ``region`` of the last ``WINDOW_SECONDS``, every vantage's, counted as
        votes: HEALTHY while more than ``healthy_percent`` % of them say so; UNKNOWN without any."""
        healthy = total = 0
        for vantage in self._vantages:
            answer = call(
                CallKind.READ,
                TransientAwsError,
                f"GetMetricStatistics {METRIC} {region} from {vantage}",
                partial(
                    self._client.get_metric_statistics,
                    Namespace=NAMESPACE,
                    MetricName=METRIC,
                    Dimensions=dimensions(self._plan, region, vantage),
                    StartTime=now - timedelta(seconds=WINDOW_SECONDS),
                    EndTime=now,
                    Period=PERIOD_SECONDS,
                    Statistics=["Sum", "SampleCount"],
                ),
            )
            for point in answer.get("Datapoints", []):
                healthy += round(float(point["Sum"]))
                total += round(float(point["SampleCount"]))
        return CheckerVotes.tally(f"probe:{region}", healthy, total - healthy, healthy_percent)
