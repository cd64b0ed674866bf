"""``make bench``: what the orchestrator adds to recovery time, measured side by side in one run.

Writes ``bench/results.json`` and prints a Markdown report. ``--quick`` runs few repetitions so CI
keeps the benchmark from rotting; the numbers worth reading come from the full mode.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import handlers as handler_package
from failover.plan import Rails
from regionshift import rto, survival
from regionshift import template as cfn
from regionshift.emulator import iam
from regionshift.emulator.scenario import Scenario

# In a checkout next to the template it measures; installed, in the working directory.
RESULTS = (cfn.checkout() or Path.cwd()) / "bench" / "results.json"
COLD_START_TARGET = 1.3
SLACK_TARGET_SECONDS = 5.0

# What a cold start pays before the handler runs: import the handler module in a fresh interpreter
# with the Lambda environment set (tracing on, as deployed).
_IMPORT = """
import sys, time, resource
t = time.perf_counter()
import {module}
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _lambda_env() -> dict[str, str]:
    document = cfn.load()
    # The directory holding the handler packages, as the deployment package does: functions/ in a
    # checkout, site-packages when installed. On the path first, as Lambda puts its task root.
    task_root = str(Path(handler_package.__file__).resolve().parent.parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))}
    # What the Lambda runtime sets before the handler module is imported. LAMBDA_TASK_ROOT matters:
    # without it the X-Ray SDK believes it is outside Lambda and builds its sampling clients.
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_REGION": "us-west-2",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": task_root,
            "PYTHONPATH": task_root,
        }
    )
    env["POWERTOOLS_LOG_LEVEL"] = str(document["Parameters"]["LogLevel"]["Default"])
    return env


def _measure_import(module: str, env: dict[str, str]) -> tuple[float, int]:
    out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed snippet
        [sys.executable, "-c", _IMPORT.format(module=module)], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1])


def cold_starts(repeats: int) -> dict[str, Any]:
    env = _lambda_env()
    handlers = {
        logical_id: props["Properties"]["Handler"].rsplit(".", 1)[0]
        for logical_id, props in cfn.load()["Resources"].items()
        if props["Type"] == "AWS::Serverless::Function"
    }
    samples: dict[str, list[float]] = {"boto3": []}
    rss: dict[str, int] = {}
    for _ in range(repeats):
        # Interleaved, so that machine noise lands on baseline and handlers alike.
        seconds, maxrss = _measure_import("boto3", env)
        samples["boto3"].append(seconds)
        rss["boto3"] = max(rss.get("boto3", 0), maxrss)
        for logical_id, module in handlers.items():
            seconds, maxrss = _measure_import(module, env)
            samples.setdefault(logical_id, []).append(seconds)
            rss[logical_id] = max(rss.get(logical_id, 0), maxrss)
    baseline = statistics.median(samples["boto3"])
    rows = {
        name: {
            "medianMs": round(1000 * statistics.median(values), 1),
            "ratioToBoto3": round(statistics.median(values) / baseline, 2),
            "initRssMiB": round(rss.get(name, 0) / 1024, 1),
        }
        for name, values in samples.items()
    }
    return {"repeats": repeats, "baselineMs": round(1000 * baseline, 1), "target": COLD_START_TARGET, "modules": rows}


def _scenario(**estate: Any) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "bench",
            "description": "bench",
            "expect": {"outcome": "FAILED_OVER"},
            "estate": estate,
            "trigger": {"alarm": {}},
        }
    )


def critical_path() -> dict[str, Any]:
    from regionshift import drill

    started = time.perf_counter()
    result = drill.run(_scenario())
    wall = time.perf_counter() - started
    run = result.runs[0]
    calls = [c for c in result.recorder.calls if c.execution == run.arn]
    notify_at = next(i for i, c in enumerate(calls) if c.operation == "Publish")
    before_notify = calls[: notify_at + 1]
    by_operation: dict[str, int] = {}
    for c in before_notify:
        by_operation[f"{c.service}:{c.operation}"] = by_operation.get(f"{c.service}:{c.operation}", 0) + 1
    probes = int(result.wire()["execution"]["states"].count("Assess"))
    looks = sum(1 for c in before_notify if c.function.endswith("TargetHealthFunction"))
    promotion_polls = sum(1 for c in before_notify if c.function.endswith("PromotionStatusFunction"))
    dns_polls = by_operation.get("route53:GetChange", 0)
    plan = result.plan
    regions, databases, zones = len(plan.region_names), len(plan.databases), len(plan.zones)
    # Calls no implementation with these rails can avoid: every region's health read per probe and
    # each look at the target, each target replica's state and lag, its promotion and polls, each
    # zone's record read, change and polls, one publish; and the rails' own table calls (lock, event
    # claim, pause, cooldown, one promotion intent per database, each zone's capture read and write).
    estate_floor = regions * probes + looks + 2 * databases + databases + promotion_polls + 2 * zones + dns_polls + 1
    floor = estate_floor + 4 + databases + 2 * zones
    transitions = len(run.execution.visits) if run.execution else 0
    invocations = [
        i for i in result.recorder.invocations if i.event and (i.event.get("execution") or {}).get("id") == run.arn
    ]
    return {
        "outcome": result.outcome,
        "awsCallsBeforeNotification": len(before_notify),
        "awsCallsFloor": floor,
        "byOperation": by_operation,
        "stateTransitions": transitions,
        "lambdaInvocations": len(invocations),
        "virtualSeconds": round(run.virtual_seconds, 1),
        "virtualWaitSeconds": sum(result.recorder.waits),
        "orchestratorWallSeconds": round(wall, 2),
    }


def polling_slack(samples: int, seed: int = 7) -> dict[str, Any]:
    """Complete the promotion and the DNS change at random moments; how long until the run notices?"""
    from regionshift import drill

    rng = random.Random(seed)
    promotion, dns = [], []
    for _ in range(samples):
        result = drill.run(
            _scenario(replica={"promotionSeconds": rng.uniform(30, 300)}, dnsSyncSeconds=rng.uniform(5, 90))
        )
        promotion.extend(result.slack.get("promotion", []))
        dns.extend(result.slack.get("dns", []))
    return {
        "samples": samples,
        "promotionMedianSeconds": round(statistics.median(promotion), 2) if promotion else None,
        "dnsMedianSeconds": round(statistics.median(dns), 2) if dns else None,
        "promotionPollSeconds": Rails().promotion_poll_seconds,
        "dnsPollSeconds": Rails().dns_poll_seconds,
        "target": SLACK_TARGET_SECONDS,
    }


FAST_RAILS = {"confirmProbes": 1, "confirmIntervalSeconds": 10}
FAST_ALARM_PERIODS = 1
# The model's worst phase: the outage begins just after a check, and with either interval (10 s or
# 30 s, 3 failures) the health check then turns unhealthy on a minute boundary, just after a publication.
OUTAGE_AT_SECONDS = 30.5


def _outage_scenario(rails: dict[str, Any], alarm_periods: int, interval: int) -> Scenario:
    """Failing checkers from OUTAGE_AT_SECONDS, and the chain left to start the run; the promotion and
    the DNS change take the model's durations."""
    return Scenario.model_validate(
        {
            "name": "bench-outage",
            "description": "bench",
            "expect": {"outcome": "FAILED_OVER", "runs": 1},
            "plan": {"rails": rails},
            "parameters": {"AlarmEvaluationPeriods": alarm_periods},
            "estate": {
                "health": {
                    "requestInterval": interval,
                    "primary": [{"at": 0, "failing": 0}, {"at": OUTAGE_AT_SECONDS, "failing": 8}],
                },
                "replica": {"promotionSeconds": rto.PROMOTION_SECONDS},
                "dnsSyncSeconds": rto.INSYNC_SECONDS,
            },
            "trigger": {"detection": {}},
        }
    )


def _measured(rails: dict[str, Any], alarm_periods: int, interval: int) -> dict[str, float | None]:
    """The recovery split of a drill that starts from failing checkers (outage to notification)."""
    from regionshift import drill

    result = drill.run(_outage_scenario(rails, alarm_periods, interval))
    if not result.runs or result.runs[0].arn not in result.reports:
        return {}
    measured: dict[str, float | None] = dict(result.reports[result.runs[0].arn]["recovery"])
    return measured


def recovery_model(measure_kinds: bool = True) -> dict[str, Any]:
    """End-to-end recovery time for the default plan and a fast plan (10 s checks, 1 alarm period):
    the model, and the same parts measured by a drill from failing checkers to the notification
    (clients following the record's TTL are the model's only part a drill cannot measure)."""
    periods = int(cfn.load()["Parameters"]["AlarmEvaluationPeriods"]["Default"])
    fast = Rails.model_validate(FAST_RAILS)
    return {
        "default": rto.estimate(Rails(), periods, check_interval_seconds=30),
        "fast": rto.estimate(fast, FAST_ALARM_PERIODS, check_interval_seconds=10),
        "measured": {
            "default": _measured({}, periods, 30),
            "fast": _measured(FAST_RAILS, FAST_ALARM_PERIODS, 10),
        },
        "ttlSeconds": rto.TTL_SECONDS,
        "seedPromiseMinutes": [15, 30],
        "byKind": kind_estimates(periods, measure_kinds),
    }


def kind_estimates(periods: int, measure: bool = True) -> dict[str, Any]:
    """The model's total for the example plan's estate and for a plan of each kind alone: an Aurora
    global database moves in about a minute where an RDS replica's promotion takes about five. With
    ``measure``, a drill of each kind alone (the emulator's durations set to the model's) measures the
    run's promotion part beside the model's."""
    from failover.plan import Plan
    from regionshift import plans

    example = plans.load(Path(__file__).resolve().parent.parent / "plans" / "example.yaml")
    document = example.model_dump(mode="json", by_alias=True, exclude_none=True)
    alone = {
        "rds-instance": {**document, "databases": document["databases"][:1], "caches": [], "tables": []},
        "aurora-global": {
            **document,
            "databases": [d for d in document["databases"] if d.get("kind") == "aurora-global"],
            "caches": [],
            "tables": [],
        },
    }
    found = {kind: rto.estimate(Rails(), periods, plan=Plan.model_validate(d)) for kind, d in alone.items()}
    found["example estate (RDS, Aurora, then the cache)"] = rto.estimate(Rails(), periods, plan=example)
    table: dict[str, Any] = {name: {"promotion": e["promotion"], "total": e["total"]} for name, e in found.items()}
    if measure:
        for kind, estate in KIND_ESTATES.items():
            table[kind]["measuredPromotion"] = _measured_promotion(estate)
    return table


# One database of each kind alone, moving in the model's time (regionshift/rto.py MOVE_SECONDS).
KIND_ESTATES: dict[str, dict[str, Any]] = {
    "rds-instance": {"databases": ["orders"], "replica": {"promotionSeconds": rto.MOVE_SECONDS["rds-instance"]}},
    "aurora-global": {
        "databases": ["orders"],
        "replicas": {"orders-us-west-2": {"promotionSeconds": 0}},
        "aurora": [{"name": "ledger", "failoverSeconds": rto.MOVE_SECONDS["aurora-global"]}],
    },
}


def _measured_promotion(estate: dict[str, Any]) -> float | None:
    """The promotion part of a drill's recovery split (the promotion Maps, from the first request to the
    last writer noticed)."""
    from regionshift import drill

    scenario = Scenario.model_validate(
        {
            "name": "bench-kind",
            "description": "bench",
            "expect": {"outcome": "FAILED_OVER", "runs": 1},
            "estate": estate,
            "trigger": {"alarm": {}},
        }
    )
    result = drill.run(scenario)
    if not result.runs or result.runs[0].arn not in result.reports:
        return None
    promotion = result.reports[result.runs[0].arn]["recovery"].get("promotion")
    return None if promotion is None else float(promotion)


# The same outage for both traffic modes: two regions, each with a probeUrl, the primary's endpoints
# failing from OUTAGE_AT_SECONDS; with ``us-east-1 lost``, the whole region too (Route 53's API, its
# CloudWatch and EventBridge there: the emulator's outages). The promotion and the DNS change take the
# model's durations.
MODE_OUTAGES = ("primary endpoints down", "us-east-1 lost")
TRAFFIC_MODES = ("upsert", "data-plane")


def _mode_scenario(mode: str, outage: str) -> Scenario:
    probe = "https://app.{}.example.com/health"
    return Scenario.model_validate(
        {
            "name": f"bench-{mode}",
            "description": "bench",
            "expect": {"outcome": None},
            "plan": {
                "traffic": {"mode": mode},
                "regions": {
                    "primary": {"probeUrl": probe.format("us-east-1")},
                    "standbys": [{"probeUrl": probe.format("us-west-2")}],
                },
            },
            "estate": {
                "standbys": ["us-west-2"],
                "health": {"primary": [{"at": 0, "failing": 0}, {"at": OUTAGE_AT_SECONDS, "failing": 8}]},
                "replica": {"promotionSeconds": rto.PROMOTION_SECONDS},
                "dnsSyncSeconds": rto.INSYNC_SECONDS,
            },
            "outages": [{"region": "us-east-1", "at": OUTAGE_AT_SECONDS}] if outage == "us-east-1 lost" else [],
            "trigger": {"detection": {"horizonSeconds": 900}},
        }
    )


def traffic_modes() -> dict[str, Any]:
    """Each traffic mode on the same outages: the outcome, the recovery split (outage to notification,
    from the run's report), and the AWS calls of that run before its notification: how many, how many
    are control plane (``survival.plane``) and how many went to the failed region (us-east-1: Route 53's
    API is served there)."""
    from regionshift import drill

    found: dict[str, Any] = {}
    for outage in MODE_OUTAGES:
        for mode in TRAFFIC_MODES:
            result = drill.run(_mode_scenario(mode, outage))
            runs = [r for r in result.runs if r.outcome == "FAILED_OVER"] or result.runs[:1]
            if not runs:
                found[f"{outage}, {mode}"] = {"outcome": None, "runs": 0}
                continue
            run = runs[0]
            calls = [c for c in result.recorder.calls if c.execution == run.arn]
            published = next((i for i, c in enumerate(calls) if c.operation == "Publish"), len(calls) - 1)
            path = calls[: published + 1]
            actions = [f"{iam.prefix(c.service)}:{c.operation}" for c in path]
            report = result.reports.get(run.arn, {})
            found[f"{outage}, {mode}"] = {
                "outcome": str(run.outcome) if run.outcome else None,
                "runs": len(result.runs),
                "recovery": report.get("recovery", {}),
                "callsBeforeNotification": len(path),
                "controlPlaneCalls": sum(1 for a in actions if survival.plane(a) == "control"),
                "callsToFailedRegion": sum(1 for c in path if c.region in ("us-east-1", "aws-global")),
                "failedCallsToFailedRegion": sum(
                    1 for c in path if c.region in ("us-east-1", "aws-global") and c.error
                ),
            }
    return found


def peak_memory() -> dict[str, Any]:
    """Peak Python allocations of each Lambda's invocations during a primary-outage run."""
    from regionshift import drill

    tracemalloc.start()
    try:
        result = drill.run(_scenario())
    finally:
        tracemalloc.stop()
    sizes = {
        logical_id: int(props["Properties"].get("MemorySize", 256))
        for logical_id, props in cfn.load()["Resources"].items()
        if props["Type"] == "AWS::Serverless::Function"
    }
    peaks: dict[str, float] = {}
    for invocation in result.recorder.invocations:
        name = invocation.function.removeprefix("regionshift-")
        peaks[name] = max(peaks.get(name, 0.0), invocation.peak_bytes / 2**20)
    return {name: {"peakMiB": round(peak, 2), "configuredMiB": sizes.get(name)} for name, peak in sorted(peaks.items())}


# The generated estate of the scale benchmark: the design's three regions, 25 databases and 200 records
# in 4 zones (half alias A records to each region's load balancer, half CNAMEs to the databases).
SCALE_DATABASES = 25
SCALE_ZONES = 4
SCALE_RECORDS = 200
# DNS calls per zone: two reads (Assess, UpdateDns), the change and its polls until INSYNC.
SCALE_TARGETS = {"virtualTimeRatio": 1.10, "dnsCallsPerZone": 5, "payloadFraction": 0.5}
# Route 53's DNS API, as against its health-check reads (per region and probe, not per zone).
DNS_OPERATIONS = ("ListResourceRecordSets", "ChangeResourceRecordSets", "GetChange")


def _scale_estate(databases: int, zones: int, records: int) -> dict[str, Any]:
    names = [f"db{i:02d}" for i in range(databases)]
    per_zone = records // zones
    shaped = []
    for z in range(zones):
        zone = f"zone{z}.example.com"
        rows: list[dict[str, Any]] = [{"name": zone, "type": "A"}]  # the apex
        for r in range(1, per_zone):
            if r % 2:
                rows.append({"name": f"api{r}.{zone}", "type": "A"})
            else:
                rows.append({"name": f"db{r}.{zone}", "type": "CNAME", "target": names[r % databases]})
        shaped.append({"name": zone, "records": rows})
    return {"databases": names, "zones": shaped}


def _measure_run(estate: dict[str, Any]) -> dict[str, Any]:
    from regionshift import drill

    started = time.perf_counter()
    result = drill.run(_scenario(**estate))
    wall = time.perf_counter() - started
    run = result.runs[0]
    calls = [c for c in result.recorder.calls if c.execution == run.arn]
    route53: dict[str, int] = {}
    for c in calls:
        if c.service == "route53":
            route53[c.operation] = route53.get(c.operation, 0) + 1
    invocations = [
        i for i in result.recorder.invocations if i.event and (i.event.get("execution") or {}).get("id") == run.arn
    ]
    return {
        "outcome": result.outcome,
        "virtualSeconds": round(run.virtual_seconds, 1),
        "route53Calls": sum(route53.values()),
        "route53ByOperation": route53,
        "lambdaInvocations": len(invocations),
        "stateTransitions": len(run.execution.visits) if run.execution else 0,
        "largestPayloadBytes": result.recorder.largest_payload,
        "wallSeconds": round(wall, 2),
    }


def scale(databases: int = SCALE_DATABASES, zones: int = SCALE_ZONES, records: int = SCALE_RECORDS) -> dict[str, Any]:
    """One database and three records against 25 databases and 200 records in 4 zones, three regions
    both: the promotions run in parallel (virtual time within 10%), DNS costs O(zones) Route 53 calls,
    and the run document stays under half of Step Functions' 256 KiB.

    Virtual time includes the emulator's own processing of each step (moto is slower with many
    resources than AWS's APIs need not be); an inline Map's iterations each start at their slot's time."""
    from regionshift.emulator.patches import PAYLOAD_LIMIT_BYTES

    small = _measure_run({"databases": ["orders"]})
    large = _measure_run(_scale_estate(databases, zones, records))
    ratio = round(large["virtualSeconds"] / small["virtualSeconds"], 3)
    per_zone = round(sum(large["route53ByOperation"].get(op, 0) for op in DNS_OPERATIONS) / zones, 2)
    fraction = round(large["largestPayloadBytes"] / PAYLOAD_LIMIT_BYTES, 3)
    return {
        "plan": {"regions": 3, "databases": databases, "records": records, "zones": zones},
        "oneDatabase": small,
        "scaled": large,
        "virtualTimeRatio": ratio,
        "dnsCallsPerZone": per_zone,
        "payloadFraction": fraction,
        "targets": SCALE_TARGETS,
        "met": {
            "virtualTimeRatio": ratio <= SCALE_TARGETS["virtualTimeRatio"],
            "dnsCallsPerZone": per_zone <= SCALE_TARGETS["dnsCallsPerZone"],
            "payloadFraction": fraction < SCALE_TARGETS["payloadFraction"],
        },
    }


def run(quick: bool) -> dict[str, Any]:
    results = {
        "mode": "quick" if quick else "full",
        "python": sys.version.split()[0],
        "coldStart": cold_starts(1 if quick else 11),
        "criticalPath": critical_path(),
        "pollingSlack": polling_slack(2 if quick else 25),
        "recoveryModel": recovery_model(measure_kinds=not quick),
        # Four drills of a few minutes of virtual time: measured in the full mode only.
        "trafficModes": {} if quick else traffic_modes(),
        "peakMemory": peak_memory(),
        # Quick mode keeps the code path alive on a small plan; the figures come from the full mode.
        "scale": scale(5, 2, 20) if quick else scale(),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


def markdown(results: dict[str, Any]) -> str:
    cold = results["coldStart"]
    lines = [
        f"## Cold start ({cold['repeats']} runs each, medians; baseline `import boto3` = {cold['baselineMs']} ms)",
        "",
        f"| module | import ms | ratio to boto3 (target <= {cold['target']}) | RSS after import MiB |",
        "|---|---:|---:|---:|",
    ]
    for name, row in cold["modules"].items():
        lines.append(f"| {name} | {row['medianMs']} | {row['ratioToBoto3']} | {row['initRssMiB']} |")
    path = results["criticalPath"]
    lines += [
        "",
        "## Critical path (primary-outage)",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| AWS calls before the notification | {path['awsCallsBeforeNotification']} (floor {path['awsCallsFloor']}) |",
        f"| of which | {', '.join(f'{k} {v}' for k, v in sorted(path['byOperation'].items()))} |",
        f"| state transitions | {path['stateTransitions']} |",
        f"| Lambda invocations | {path['lambdaInvocations']} |",
        f"| virtual run time / waits, summed over the Map's parallel iterations | "
        f"{path['virtualSeconds']} s / {path['virtualWaitSeconds']} s |",
        f"| orchestrator wall time (emulated, waits skipped) | {path['orchestratorWallSeconds']} s |",
    ]
    slack = results["pollingSlack"]
    lines += [
        "",
        f"## Polling slack ({slack['samples']} runs, completion at a random moment)",
        "",
        f"| change | poll interval | median delay to notice (target < {slack['target']} s) |",
        "|---|---:|---:|",
        f"| promotion | {slack['promotionPollSeconds']} s | {slack['promotionMedianSeconds']} s |",
        f"| DNS INSYNC | {slack['dnsPollSeconds']} s | {slack['dnsMedianSeconds']} s |",
    ]
    model = results["recoveryModel"]
    lines += [
        "",
        "## Recovery-time model (seconds)",
        "",
        "| part | default plan | fast plan (10 s checks) |",
        "|---|---:|---:|",
    ]
    for part in model["default"]:
        lines.append(f"| {part} | {model['default'][part]:.0f} | {model['fast'][part]:.0f} |")
    lines.append(f"| seed's promise | {model['seedPromiseMinutes'][0] * 60}-{model['seedPromiseMinutes'][1] * 60} | |")
    lines += [
        "",
        "## Recovery-time model by kind of database (seconds, default plan's rails)",
        "",
        "| plan | moving the writers (model) | measured by a drill | total (model) |",
        "|---|---:|---:|---:|",
    ]
    for name, estimate in model["byKind"].items():
        measured = estimate.get("measuredPromotion")
        shown = "-" if measured is None else f"{measured:.0f}"
        lines.append(f"| {name} | {estimate['promotion']:.0f} | {shown} | {estimate['total']:.0f} |")
    measured = model["measured"]
    lines += [
        "",
        "## Model and measurement (seconds; a drill from failing checkers to the notification)",
        "",
        "| part | default model | default measured | fast model | fast measured |",
        "|---|---:|---:|---:|---:|",
    ]
    for part in ("detection", "alarm", "delivery", "confirmation", "promotion", "dns", "notification", "total"):
        row = [part]
        for plan in ("default", "fast"):
            modelled = model[plan].get(part, 0.0)
            if part in ("dns", "total"):
                modelled -= model["ttlSeconds"]  # clients following the TTL: after the run, not in it
            got = measured[plan].get(part)
            row += [f"{modelled:.0f}", "-" if got is None else f"{got:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "The model takes detection and alarm at their worst phase, which the drill reproduces (outage "
        f"{OUTAGE_AT_SECONDS} s in, just after a check); a random phase saves on average half a check "
        "interval and half a minute. Delivery (the alarm's event to the execution's start) is not in the "
        "model: the emulated event's time has whole seconds. Confirmation, promotion and DNS measure the "
        "model's waits plus the steps' own (emulated) run time, and a completion is noticed at the next "
        "poll (the model allows half a poll interval); the model's 2 s for the notification is an emulated "
        "publish here; the model's DNS and total leave out the TTL, which only clients spend.",
    ]
    lines += [
        "",
        "## Peak memory per Lambda (Python allocations during its invocations)",
        "",
        "| function | peak MiB | configured MiB |",
        "|---|---:|---:|",
    ]
    for name, row in results["peakMemory"].items():
        lines.append(f"| {name} | {row['peakMiB']} | {row['configuredMiB']} |")
    lines += _modes_markdown(results.get("trafficModes") or {})
    lines += _scale_markdown(results["scale"])
    return "\n".join(lines)


def _modes_markdown(modes: dict[str, Any]) -> list[str]:
    if not modes:
        return []
    lines = [
        "",
        "## Traffic modes on the same outage (two regions with probes; full mode only)",
        "",
        "| outage, mode | outcome | detection + alarm + delivery | confirmation | promotion | traffic | total "
        "| calls before the page | control plane | to us-east-1 (failed) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in modes.items():
        part = row.get("recovery", {})

        def shown(*keys: str, p: dict[str, Any] = part) -> str:
            values = [p.get(k) for k in keys]
            return "-" if any(v is None for v in values) else f"{sum(float(v) for v in values if v is not None):.0f}"

        lines.append(
            f"| {name} | {row['outcome']} ({row['runs']} run(s)) | {shown('detection', 'alarm', 'delivery')} "
            f"| {shown('confirmation')} | {shown('promotion')} | {shown('dns')} | {shown('total')} "
            f"| {row.get('callsBeforeNotification', '-')} | {row.get('controlPlaneCalls', '-')} "
            f"| {row.get('callsToFailedRegion', '-')} ({row.get('failedCallsToFailedRegion', '-')}) |"
        )
    lines += [
        "",
        "Seconds of virtual time, from the outage to the notification of the run that failed over (or the "
        "first run). Detection is the probe's alarm or Route 53's, whichever fires first; traffic is the "
        "change reaching INSYNC (upsert) or the serving alarms switching (data-plane). Calls are that run's "
        "before its notification: control plane per `regionshift.survival.plane`, and those sent to "
        "us-east-1 (Route 53's API included), with how many failed.",
    ]
    return lines


def _scale_markdown(scale: dict[str, Any]) -> list[str]:
    plan, small, large, targets = scale["plan"], scale["oneDatabase"], scale["scaled"], scale["targets"]
    met = {k: "met" if v else "NOT met" for k, v in scale["met"].items()}
    return [
        "",
        f"## Scale: 1 database and 3 records against {plan['databases']} databases and {plan['records']} records "
        f"in {plan['zones']} zones (3 regions, one run each)",
        "",
        "| measure | 1 database | scaled | target |",
        "|---|---:|---:|---|",
        f"| outcome | {small['outcome']} | {large['outcome']} | FAILED_OVER |",
        f"| virtual run time (s) | {small['virtualSeconds']} | {large['virtualSeconds']} | "
        f"ratio {scale['virtualTimeRatio']} <= {targets['virtualTimeRatio']} ({met['virtualTimeRatio']}) |",
        f"| Route 53 calls | {small['route53Calls']} | {large['route53Calls']} | "
        f"DNS calls {scale['dnsCallsPerZone']} per zone <= {targets['dnsCallsPerZone']} ({met['dnsCallsPerZone']}) |",
        f"| of which | {_ops(small['route53ByOperation'])} | {_ops(large['route53ByOperation'])} | |",
        f"| Lambda invocations | {small['lambdaInvocations']} | {large['lambdaInvocations']} | |",
        f"| state transitions | {small['stateTransitions']} | {large['stateTransitions']} | |",
        f"| largest state payload (bytes) | {small['largestPayloadBytes']} | {large['largestPayloadBytes']} | "
        f"{scale['payloadFraction']} of 256 KiB < {targets['payloadFraction']} ({met['payloadFraction']}) |",
        f"| orchestrator wall time (s, emulated) | {small['wallSeconds']} | {large['wallSeconds']} | |",
    ]


def _ops(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
