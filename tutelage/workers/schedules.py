"""The learning cycles' Temporal Schedules, created or updated idempotently."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from ..config import TutelageConfig
from ..models.lifecycle import CycleInput
from ..options import CYCLE_WORKFLOWS


def schedule_id(cycle: str, task_queue: str) -> str:
    return f"tutelage-{cycle}-{task_queue}"


def _schedule(cycle: str, config: TutelageConfig) -> Schedule:
    every = {"promotion": config.schedules.promotion_interval_s,
             "evolution": config.schedules.evolution_interval_s,
             "distillation": config.schedules.distillation_interval_s}[cycle]  # fmt: skip
    queue = config.temporal.task_queue
    return Schedule(
        action=ScheduleActionStartWorkflow(
            CYCLE_WORKFLOWS[cycle],
            CycleInput(reason="schedule"),
            id=f"{cycle}-scheduled-{queue}",
            task_queue=queue,
        ),  # fmt: skip
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=every))]),
        # A cycle still running when the next is due is skipped, not stacked.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def sync_schedules(client: Client, config: TutelageConfig) -> list[tuple[str, str]]:
    """Create each cycle's schedule, or bring an existing one in line with the config."""
    done = []
    for cycle in CYCLE_WORKFLOWS:
        sid = schedule_id(cycle, config.temporal.task_queue)
        wanted = _schedule(cycle, config)
        try:
            await client.create_schedule(sid, wanted)
            done.append((sid, "created"))
        except ScheduleAlreadyRunningError:

            def replace(_: ScheduleUpdateInput, s: Schedule = wanted) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=s)

            await client.get_schedule_handle(sid).update(replace)
            done.append((sid, "updated"))
    return done
