"""An inline Map's iterations in virtual time: one after another in the execution's own thread, each
in its own fork of the virtual clock, on ``MaxConcurrency`` slots.

Step Functions runs up to ``MaxConcurrency`` iterations at once; 0, the default, "places no limit on
concurrency" (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html, the
``MaxConcurrency`` field). moto runs them on ``MaxConcurrency`` real threads, so every iteration's
Wait adds to the one clock (five 30 s waits side by side advance it 150 s) and the order of events
and handler calls changes from run to run. Here the slots are modelled instead:

* every slot is free at the Map's start; item ``i``, in item order, takes the slot that frees
  first (the lowest-numbered of equals) and runs from that slot's free time, the clock set there;
  the slot frees at the item's end (the clock when its iteration finishes);
* "If any iteration fails, the Map state fails ... all iterations are stopped" (same page,
  ``ProcessorConfig``): an item whose slot frees at or after the earliest failure's end never
  starts. An item already started then runs to its end: Step Functions would stop it at that
  failure, so its later calls and events are an over-approximation;
* after the Map the clock reads the latest end (never earlier than the Map's start), and the Map
  fails with the earliest failure by end time (equal ends: the lower index), as moto's ``JobPool``
  surfaces the first failure closed.

Slot starts never decrease in item order, and a later failure can only end after its own start,
so "never starts" is decided exactly while running items in order.

Limits: the clock is the emulator's one clock, so an execution running beside the Map sees it move
back with each fork; the history lists each iteration's events together, so its timestamps go back
at each ``MapIterationStarted``. A DISTRIBUTED Map (``DistributedIterationComponent``) is not
replaced: its child executions still run on moto's threads.
"""

import math
from dataclasses import dataclass
from typing import Any

from regionshift.emulator.engine import VirtualClock


@dataclass
class Slots:
    """When each of ``MaxConcurrency`` slots is next free, in virtual seconds (clock readings)."""

    free_at: list[float]

    @classmethod
    def at(cls, start: float, count: int) -> "Slots":
        return cls([start] * max(1, count))

    def take(self) -> tuple[int, float]:
        """The slot that frees first (the lowest-numbered of equals) and when it frees."""
        slot = min(range(len(self.free_at)), key=lambda index: (self.free_at[index], index))
        return slot, self.free_at[slot]

    def release(self, slot: int, end: float) -> None:
        self.free_at[slot] = end


class _OneJob:
    """The job pool one of moto's iteration workers sees: the job it was handed and no other.

    Its close is not applied here: the Map's own pool closes every job in end-time order afterwards.
    """

    def next_job(self) -> None:
        return None

    def close_job(self, _job: Any) -> None:
        return None


def run_inline(component: Any, env: Any, clock: VirtualClock) -> None:
    """``InlineIterationComponent._eval_body``: the Map's items on slots in virtual time.

    Each item runs in moto's own worker (``IterationWorker._eval_pool``: the MapIteration* events,
    ``$$.Map.Item``, ``ItemSelector`` / ``Parameters``, the failure it turns into an exception), in a
    frame of its own opened on the Map's last event, as moto's workers open theirs when launched.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import (
        DEFAULT_MAX_CONCURRENCY_VALUE,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext

    eval_input = env.stack.pop()
    pool = JobPool(job_program=component._get_iteration_program(), job_inputs=eval_input.input_items)
    jobs = list(iter(pool.next_job, None))  # in item order
    unlimited = eval_input.max_concurrency == DEFAULT_MAX_CONCURRENCY_VALUE
    # In clock readings (wall time plus the offset), not offsets: the emulator's own processing of one
    # iteration must not delay the start of the next, which in Step Functions runs beside it.
    begin = clock.monotonic()
    slots = Slots.at(begin, len(jobs) if unlimited else eval_input.max_concurrency)
    source = env.event_history_context.source_event_id
    ended: list[tuple[float, int, Any]] = []  # (end, index, job) of every item that ran
    failed_at = math.inf
    try:
        for job in jobs:
            slot, start = slots.take()
            if start >= failed_at:
                break  # this slot frees after the Map has failed, as does every later item's
            clock.set_monotonic(start)
            worker = component._create_worker(env=env, eval_input=eval_input, job_pool=_OneJob())
            worker._eval_pool(job=job, worker_frame=env.open_frame(EventHistoryContext(previous_event_id=source)))
            end = clock.monotonic()
            slots.release(slot, end)
            ended.append((end, job.job_index, job))
            if isinstance(job.job_output, Exception):
                failed_at = min(failed_at, end)
    finally:
        clock.set_monotonic(max([begin, *(end for end, _, _ in ended)]))
    # moto's pool keeps the first failure closed and ignores every close after it.
    for _, _, job in sorted(ended, key=lambda done: (done[0], done[1])):
        pool.close_job(job)
    failure = pool.get_worker_exception()
    if failure is not None:
        raise failure
    env.stack.append([closed.job_output for closed in pool.get_closed_jobs()])
