"""Run reports: Markdown, a self-contained HTML page with a timeline chart, and JSON, for any execution.

Built from the execution history and the run's audit record, so the report Finalize writes to the
stack's bucket, the one ``regionshift report`` builds and a drill's come from the same code.
"""

import html
import json
from datetime import datetime
from typing import Any

from failover import approval, fencing
from failover.history import ExecutionHistory, Visit
from failover.models import ApprovalResult, FenceCode
from failover.state import AuditRecord
from failover.text import markdown_safe, terminal_safe

# Where in the report bucket runs' reports go: <PREFIX><execution name>/report.{md,html,json}. The
# template's grant to Finalize and the bucket's lifecycle rule name the same prefix (a test checks).
PREFIX = "reports/"

COLOURS = {"done": "#2e7d32", "caught": "#c62828", "running": "#f9a825"}
WAIT_COLOUR = "#90a4ae"


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else round((b - a).total_seconds(), 1)


def _first(visits: list[Visit], name: str) -> Visit | None:
    return next((v for v in visits if v.name == name), None)


def _last(visits: list[Visit], name: str) -> Visit | None:
    found = [v for v in visits if v.name == name]
    return found[-1] if found else None


def recovery_breakdown(
    execution: ExecutionHistory, audit: AuditRecord | None, chain: dict[str, datetime | None] | None = None
) -> dict[str, float | None]:
    """Where the time went: detection, confirmation, promotion, DNS, notification.

    Detection is the alarm event to the start, unless ``chain`` says when the outage began and the
    health check turned unhealthy (an emulated drill knows): then detection is outage to unhealthy,
    alarm is unhealthy to the alarm's event, and delivery is the event to the start.
    """
    visits = execution.visits
    trigger = audit.trigger if audit else None
    event_time = trigger.event_time if trigger is not None and trigger.kind == "alarm" else None
    early: dict[str, float | None] = {"detection": _seconds(event_time, execution.started)}
    if chain is not None:
        early = {
            "detection": _seconds(chain.get("outage"), chain.get("unhealthy")),
            "alarm": _seconds(chain.get("unhealthy"), event_time),
            "delivery": _seconds(event_time, execution.started),
        }
    assess, promote, update = _first(visits, "Assess"), _first(visits, "PromoteAll"), _first(visits, "UpdateDns")
    last_assess = _last(visits, "AssessDecision")
    moved = _first(visits, "FailedOver") or _first(visits, "SwitchedOver")
    notify = _last(visits, "Notify")
    wait = _first(visits, "AwaitApproval")
    parts = {
        **early,
        "confirmation": _seconds(assess.entered if assess else None, last_assess.exited if last_assess else None),
        # A plan that waits for approval: the wait is part of the recovery time.
        **({"approval": _seconds(wait.entered, wait.exited)} if wait else {}),
        "promotion": _seconds(promote.entered if promote else None, update.entered if update else None),
        "dns": _seconds(update.entered if update else None, moved.entered if moved else None),
        "notification": _seconds(notify.entered if notify else None, notify.exited if notify else None),
    }
    parts["total"] = round(sum(v for v in parts.values() if v is not None), 1)
    return parts


def build(
    execution: ExecutionHistory, audit: AuditRecord | None, chain: dict[str, datetime | None] | None = None
) -> dict[str, Any]:
    """The report document (also written as JSON): the audit record's facts beside the execution's timing."""
    record = audit.wire() if audit else {}
    return {
        "execution": execution.arn,
        "status": execution.status,
        "outcome": record.get("outcome") or execution.error,
        "reason": record.get("reason") or execution.cause,
        "trigger": record.get("trigger") or record.get("rawTrigger") or execution.input,
        "flags": record.get("flags"),
        "decisions": record.get("decisions") or {},
        "changes": record.get("changes") or {},
        "error": record.get("error"),
        "notification": record.get("notification"),
        "notificationError": record.get("notificationError"),
        "started": execution.started.isoformat(),
        "stopped": execution.stopped.isoformat() if execution.stopped else None,
        "historyTruncated": execution.truncated,
        "recovery": recovery_breakdown(execution, audit, chain),
        "timeline": [
            {
                "state": v.name,
                "kind": v.kind,
                "start": _seconds(execution.started, v.entered),
                "end": _seconds(execution.started, v.exited),
                "status": v.status,
                "retries": v.retries,
                "errors": v.errors,
            }
            for v in execution.visits
        ],
    }


def drain_text(since: datetime, at: datetime) -> str:
    """How long a switchover's replicas read 0 s of lag before the run decided."""
    return f"replica lag read 0 s on every read from {since.isoformat()} to {at.isoformat()} ({(at - since).total_seconds():.0f} s)"


def _decision_lines(report: dict[str, Any]) -> list[str]:
    decisions = report["decisions"]
    lines = []
    if (report.get("flags") or {}).get("switchover"):
        lines.append("Switchover: a planned move with no data loss (the writer moves once every replica caught up)")
    if decisions.get("intake"):
        lines.append(f"Intake: {decisions['intake']}")
    gate = decisions.get("gate") or {}
    if gate:
        lines.append(f"Gate (lock {'taken' if gate.get('acquired') else 'not taken'}): {gate.get('reason')}")
    assess = decisions.get("assess") or {}
    if assess:
        lines.append(f"Assessment on probe {assess.get('probe')}: {assess.get('decision')}: {assess.get('reason')}")
        if assess.get("drainedSince"):
            since, at = (datetime.fromisoformat(assess[key]) for key in ("drainedSince", "at"))
            lines.append(f"Switchover drain: {drain_text(since, at)}")
        voters = [("primary", assess.get("primary") or {})]
        voters += [(f"standby {s.get('region')}", s.get("votes") or {}) for s in assess.get("standbys") or []]
        for label, votes in voters:
            if votes:
                lines.append(
                    f"Checker votes, {label}: {votes.get('healthy')} healthy, {votes.get('failing')} failing "
                    f"({votes.get('healthyPercent')}% healthy) -> {votes.get('verdict')}"
                )
        for standby in assess.get("standbys") or []:
            if standby.get("chosen"):
                lines.append(f"Target: {standby.get('region')}, {assess.get('whyChosen')}")
            elif standby.get("passedOver"):
                lines.append(f"Passed over {standby.get('region')}: {standby.get('passedOver')}")
        for number, stage in enumerate(assess.get("stages") or [], start=1):
            for replica in stage:
                lines.append(
                    f"Replica {replica.get('identifier')} ({replica.get('database')}, {replica.get('region')}"
                    + (f", stage {number}" if len(assess["stages"]) > 1 else "")
                    + f"): {replica.get('status')}, source {replica.get('source')}, "
                    + (
                        f"lag {replica.get('lagSeconds')} s"
                        if replica.get("kind", "rds-instance") != "elasticache-global"
                        else "lag not a rail (a cache)"
                    )
                    + (" (data loss accepted)" if assess.get("dataLossAccepted") else "")
                )
        for table in assess.get("tables") or []:
            lines.append(
                f"Global table {table.get('table')} ({table.get('name')}): replica in {table.get('region')} "
                f"{table.get('status')}, replication latency {table.get('lagSeconds')} s"
            )
    if decisions.get("approval"):
        lines.append(approval.describe(ApprovalResult.model_validate(decisions["approval"]), None))
    return lines


KIND_NOUN = {"rds-instance": "database", "aurora-global": "Aurora global database", "elasticache-global": "cache"}


def _change_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    changes = report["changes"]
    rows = []
    for promotion in changes.get("promotions") or []:
        rows.append(
            (
                f"{KIND_NOUN.get(promotion.get('kind', ''), 'database')} {promotion['database']}: "
                f"{promotion['identifier']} ({promotion['region']})",
                "read replica" if promotion.get("kind", "rds-instance") == "rds-instance" else "secondary",
                ("standalone writer" if promotion.get("kind", "rds-instance") == "rds-instance" else "writer")
                if promotion.get("available")
                else str(promotion.get("status")),
            )
        )
    dns = changes.get("dns") or {}
    for change in dns.get("changes", []):
        rows.append((f"{change['name']} {change['type']}", str(change["before"]), change["after"]))
    shown, changed = len(dns.get("changes", [])), sum(z.get("records", 0) for z in dns.get("zones", []))
    if changed > shown:
        rows.append((f"{changed - shown} more record(s)", "their primary targets", "their target-region targets"))
    # Each zone's change batch, and whether Route 53 reported it INSYNC: a zone left PENDING is named.
    for zone in dns.get("zones", []):
        if zone.get("changeId"):
            rows.append(
                (
                    f"hosted zone {zone['zoneId']}",
                    f"{zone.get('records', 0)} record(s)",
                    f"change {zone['changeId']}: {zone.get('status')}",
                )
            )
    # The old primaries, one row per kind of answer (the page names each one; failover.fencing).
    fence = changes.get("fence") or {}
    if fence.get("error"):
        rows.append(("old primaries", "fencing failed", f"fence them by hand: {fence['error']}"))
    for code in sorted(set(fence.get("codes") or "")):
        count = str(fence["codes"].count(code))
        rows.append(("old primaries", f"{count} of {len(fence['codes'])}", fencing.TEXT[FenceCode(code)]))
    # Data-plane mode: the serving alarms the failover pairs' health checks follow (docs/traffic.md).
    for switched in dns.get("switch", []):
        rows.append(
            (
                f"serving alarm {switched['alarm']}",
                f"wanted {switched['wanted']}",
                str(switched.get("state") or "not read"),
            )
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Regionshift run report: {report['outcome']}",
        "",
        f"- Execution: `{report['execution']}` ({report['status']})",
        f"- Started: {report['started']}; stopped: {report['stopped']}",
        f"- Reason: {markdown_safe(report['reason'])}",
        f"- Trigger: {_code_span(json.dumps(report['trigger'], default=str))}",
        "",
        "## Decisions",
        "",
        *[f"- {markdown_safe(line)}" for line in _decision_lines(report)],
        "",
        "## What changed",
        "",
    ]
    rows = _change_rows(report)
    if rows:
        lines += [
            "| what | before | after |",
            "|---|---|---|",
            *[f"| {markdown_safe(a)} | {markdown_safe(b)} | {markdown_safe(c)} |" for a, b, c in rows],
        ]
    else:
        lines.append("Nothing in the estate changed.")
    lines += ["", "## Recovery time (seconds)", "", "| part | seconds |", "|---|---:|"]
    lines += [f"| {part} | {'-' if value is None else value} |" for part, value in report["recovery"].items()]
    lines += [
        "",
        "## Timeline",
        "",
        "| +s | state | took s | status | retries | errors |",
        "|---:|---|---:|---|---:|---|",
    ]
    for step in report["timeline"]:
        took = "-" if step["end"] is None else round(step["end"] - step["start"], 1)
        lines.append(
            f"| {step['start']} | {step['state']} | {took} | {step['status']} | {step['retries'] or ''} | {markdown_safe(', '.join(step['errors']))} |"
        )
    if report.get("notificationError"):
        lines += ["", f"**The notification failed:** {_code_span(json.dumps(report['notificationError']))}"]
    return "\n".join(lines) + "\n"


def _code_span(text: str) -> str:
    """Text as an inline code span: Markdown shows it verbatim, once no backtick can close it."""
    return "`" + terminal_safe(text).replace("`", "'") + "`"


def _svg_timeline(report: dict[str, Any]) -> str:
    """A Gantt chart of the states that took time (Tasks and Waits), one row each."""
    steps = [s for s in report["timeline"] if s["kind"] in ("Task", "Wait") and s["end"] is not None]
    if not steps:
        return "<p>No timed steps.</p>"
    total = max(s["end"] for s in steps) or 1.0
    width, label, row = 900, 170, 22
    height = row * len(steps) + 40
    scale = (width - label - 20) / total
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="timeline">'
    ]
    for i, step in enumerate(steps):
        y = 10 + i * row
        x = label + step["start"] * scale
        w = max(4.0, (step["end"] - step["start"]) * scale)
        colour = WAIT_COLOUR if step["kind"] == "Wait" else COLOURS.get(step["status"], "#455a64")
        title = html.escape(f"{step['state']}: +{step['start']} s, {round(step['end'] - step['start'], 1)} s")
        parts.append(
            f'<text x="{label - 6}" y="{y + 15}" text-anchor="end" font-size="12">{html.escape(step["state"])}</text>'
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{colour}" rx="3"><title>{title}</title></rect>'
        )
    axis_y = 10 + len(steps) * row + 14
    for tick in range(0, 6):
        seconds = total * tick / 5
        x = label + seconds * scale
        parts.append(f'<text x="{x:.1f}" y="{axis_y}" font-size="11" text-anchor="middle">{seconds:.0f}s</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_page(report: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(a)}</td><td>{e(b)}</td><td>{e(c)}</td></tr>" for a, b, c in _change_rows(report))
    recovery = "".join(
        f"<tr><td>{e(part)}</td><td class=num>{'-' if value is None else value}</td></tr>"
        for part, value in report["recovery"].items()
    )
    decisions = "".join(f"<li>{e(line)}</li>" for line in _decision_lines(report))
    errors = "".join(
        f"<tr><td>{e(s['state'])}</td><td class=num>{s['retries']}</td><td>{e(', '.join(s['errors']))}</td></tr>"
        for s in report["timeline"]
        if s["errors"] or s["retries"]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Regionshift run report: {e(str(report["outcome"]))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #212121; max-width: 960px; }}
h1 {{ font-size: 1.4rem; }} .outcome {{ font-weight: bold; padding: .2rem .5rem; border-radius: 4px; background: #eceff1; }}
table {{ border-collapse: collapse; margin: .5rem 0 1rem; }} td, th {{ border: 1px solid #cfd8dc; padding: .25rem .5rem; font-size: .9rem; }}
.num {{ text-align: right; }} code {{ font-size: .85rem; }}
</style></head><body>
<h1>Regionshift run report <span class="outcome">{e(str(report["outcome"]))}</span></h1>
<p>{e(str(report["reason"]))}</p>
<p><code>{e(report["execution"])}</code> ({e(report["status"])}), started {e(report["started"])}</p>
<h2>Timeline</h2>
{_svg_timeline(report)}
<h2>Decisions</h2><ul>{decisions}</ul>
<h2>What changed</h2>
{"<table><tr><th>what</th><th>before</th><th>after</th></tr>" + rows + "</table>" if rows else "<p>Nothing in the estate changed.</p>"}
<h2>Recovery time (seconds)</h2><table>{recovery}</table>
<h2>Retries and errors</h2>
{"<table><tr><th>state</th><th>retries</th><th>errors</th></tr>" + errors + "</table>" if errors else "<p>None.</p>"}
<h2>Trigger</h2><pre>{e(json.dumps(report["trigger"], indent=2, default=str))}</pre>
</body></html>
"""


def folder(execution_arn: str) -> str:
    """The key prefix of one run's report: deterministic from the execution's name, so that the
    notification can link the report before Finalize writes it."""
    return f"{PREFIX}{execution_arn.rsplit(':', 1)[-1]}/"


def render(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """File name -> (content type, text) of each form of the report."""
    return {
        "report.md": ("text/markdown; charset=utf-8", markdown(report)),
        "report.html": ("text/html; charset=utf-8", html_page(report)),
        "report.json": ("application/json", json.dumps(report, indent=2, default=str)),
    }
