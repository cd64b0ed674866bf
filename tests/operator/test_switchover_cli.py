"""regionshift switchover: a planned move of a deployed stack, started like a drill and guarded like a live one."""

import json
from pathlib import Path

from tests.operator.test_operating_safely import WHO, cli, one_line_exit
from tests.operator.test_server_mode import emulated

# The primary is healthy and the writes are stopped: every replica reads 0 s of lag.
DRAINED = {"health": {"primary": [{"failing": 0}]}, "replica": {"lagSeconds": 0}}


def test_a_switchover_needs_a_stack() -> None:
    assert "--stack" in one_line_exit(cli("switchover", "--to", "us-west-2", *WHO), 2)


def test_a_switchover_off_a_terminal_needs_yes_and_starts_nothing_without_it() -> None:
    with emulated(**DRAINED) as (_stack, stack_cli):
        result = stack_cli("switchover", "--to", "us-west-2", *WHO)
        assert "confirmed by typing the plan name" in one_line_exit(result, 2)
        assert json.loads(stack_cli("history", "--json").stdout) == []


def test_a_switchover_moves_the_writer_once_the_lag_has_drained(tmp_path: Path) -> None:
    # Given a healthy primary whose replicas have caught up
    with emulated(**DRAINED) as (_stack, stack_cli):
        # When an operator switches over to us-west-2
        result = stack_cli(
            "switchover", "--to", "us-west-2", *WHO, "--yes", "--poll", "0.05", "--report-dir", str(tmp_path)
        )
        # Then the run says it was a switchover with no data loss, and the writer moved
        assert result.exit_code == 0, result.output
        assert "outcome: FAILED_OVER" in result.stdout
        (run,) = json.loads(stack_cli("history", "--json").stdout)
        assert run["outcome"] == "FAILED_OVER"
        assert run["reason"].startswith("switched over to us-west-2 with no data loss")


def test_a_switchover_dry_run_changes_nothing(tmp_path: Path) -> None:
    with emulated(**DRAINED) as (_stack, stack_cli):
        result = stack_cli(
            "switchover", "--to", "us-west-2", *WHO, "--dry-run", "--poll", "0.05", "--report-dir", str(tmp_path)
        )
        assert result.exit_code == 0, result.output
        assert "(dry run)" in result.stdout and "outcome: DRY_RUN" in result.stdout


def test_a_switchover_with_an_unhealthy_primary_is_refused_and_exits_5(tmp_path: Path) -> None:
    # Given the primary down (every checker failing): a failover's case, not a switchover's
    with emulated(replica={"lagSeconds": 0}) as (_stack, stack_cli):
        result = stack_cli(
            "switchover", "--to", "us-west-2", *WHO, "--yes", "--poll", "0.05", "--report-dir", str(tmp_path)
        )
        assert "outcome: REFUSED" in result.stdout
        assert result.exit_code == 5, result.output
