"""Scale: open cases held at once, the worker's resident memory, and how throughput and latency change.

Opens cases with the real StaffCommands.start_case, C at a time (default 64), in steps up to the
target (default: measured at 1,000 and at 10,000 open cases; `--levels 1000,10000,40000` for the issue's
40,000). The cases stay open: each waits on its
consent task and that task's reminder and escalation timers, hours away (the demo site's SLAs, in
minutes, are set back to SiteConfig's defaults; --demo-timings keeps them, and the timers fire). The
production worker runs as a separate `pathway worker` process (SQLite store, payload codec, an SMTP
sink for the referrals' email), so its resident memory is read from /proc/PID/status: VmRSS now and
VmHWM, the peak so far.
At each level, with that many cases open, a fixed probe:

- **journeys**: K new cases (default 20) through the standard journey (start, consent, screening,
  assessment, information sharing, referral to two services, closure), P at a time (default 8),
  timed as cases per second; every task completion is timed (StaffCommands.complete_task, no HTTP),
  giving p50 and p99;
- **cold completions**: the consent task of M cases (default 50) opened at the start of the step and
  untouched since, P at a time: once more cases are open than the worker caches
  (`--max-cached`, given to the worker as PATHWAY_MAX_CACHED_WORKFLOWS; default the setting's
  default), these have been evicted from the worker's cache, so each completion first replays the
  case's history into a new workflow instance.

The worker's sticky cache size and forced evictions are read from its /metrics. Everything but the
worker (dev server, StaffCommands, SMTP sink) runs in this process.

    .venv/bin/python -m bench.scale [--open-cases 10000] [--levels 1000,10000,40000] [--concurrency 64]
                                     [--probe-journeys 20] [--probe-concurrency 8] [--cold 50]
                                     [--max-cached 1000]

Prints a table per level with the target (worker peak RSS under 1 GiB with 40,000 cases open) and
appends a row to bench/results/scale.csv.
"""

import argparse
import asyncio
import functools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.journey_throughput import journey
from bench.support import (
    PRACTITIONER,
    STANDARD_OUTCOMES,
    Memory,
    PatientCommands,
    WorkerProcess,
    in_parallel,
    opening,
    pathway_stack,
    percentile,
    worker_process,
    write_row,
)
from domain.config import PathwayConfig, SiteConfig
from domain.model import Actor, Setting
from domain.state import CaseState
from domain.tasks import TaskKind
from service.staff import StaffCommands
from workers.settings import DEFAULT_MAX_CACHED_WORKFLOWS

# Issue 21: the national figure, about 250,000 episodes a year lasting about eight weeks, on one worker.
TARGET_OPEN = 40_000
TARGET_RSS = 1 << 30  # the worker's peak resident memory under 1 GiB with that many cases open
# What `make bench` opens: 40,000 take over 20 minutes to open here, so the target wants --levels.
DEFAULT_OPEN = 10_000
MIB = 1 << 20
MS = 1000


@dataclass
class TimedCommands(PatientCommands):
    """Patient StaffCommands that time every task completion (the journey's code is reused unchanged)."""

    samples: list[float] = field(default_factory=list)

    async def complete_task(self, task_id: str, outcome: dict[str, Any], actor: Actor) -> CaseState:
        started = time.perf_counter()
        try:
            return await super().complete_task(task_id, outcome, actor)
        finally:
            self.samples.append(time.perf_counter() - started)


TIMINGS = ("screening_sla_minutes", "task_sla_minutes", "reminder_before_minutes", "escalate_after_minutes")


def with_default_timings(config: PathwayConfig, site_id: str = "demo") -> PathwayConfig:
    """The configuration with the site's SLAs, reminders and escalation back at SiteConfig's defaults
    (custody screening due in 2 hours, a reminder 30 minutes before) and days a day long. The
    shipped demo site counts them in minutes (custody screening due in 5, a reminder 2 minutes
    before), so every open case would wake for its reminder and escalation while the benchmark runs."""
    timings = {name: SiteConfig.model_fields[name].get_default(call_default_factory=True) for name in TIMINGS}
    site = config.sites[site_id].model_copy(update=timings | {"day_length_minutes": 24 * 60})
    return config.model_copy(update={"sites": {**config.sites, site_id: site}})


@dataclass(frozen=True)
class CacheFigures:
    """The worker's sticky workflow cache, from the SDK's metrics (None where the worker has none yet):
    workflows cached now, and, so far, the workflows evicted to make room and the workflow tasks that
    found no cached instance (each replayed the workflow's history into a new one)."""

    size: float | None
    evictions: float | None
    misses: float | None


async def cache_figures(worker: WorkerProcess) -> CacheFigures:
    def total(text: str, name: str) -> float | None:
        found = re.finditer(rf"^temporal_{name}(?:_total)?(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
        values = [float(match.group(1)) for match in found]
        return sum(values) if values else None

    try:
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(f"{worker.health_url}/metrics")).text
    except httpx.HTTPError:
        return CacheFigures(None, None, None)
    # The counters appear once they first count: absent from a worker that answered means none yet.
    return CacheFigures(
        total(text, "sticky_cache_size"),
        total(text, "sticky_cache_total_forced_eviction") or 0.0,
        total(text, "sticky_cache_miss") or 0.0,
    )


def during(before: float | None, after: float | None) -> float | None:
    return None if after is None else after - (before or 0)


@dataclass(frozen=True)
class Level:
    open_cases: int
    opened: int  # cases opened in this step
    open_s: float  # wall time of this step's opening
    memory: Memory  # the worker's, once the level was reached (before the probe)
    memory_after: Memory  # after the probe
    cache: CacheFigures  # once the level was reached
    cache_after: CacheFigures  # after the probe
    journeys: int
    journey_s: float
    task_samples: list[float]
    cold_samples: list[float]

    @property
    def open_rate(self) -> float:
        return self.opened / self.open_s if self.open_s else 0.0

    @property
    def journeys_per_s(self) -> float:
        return self.journeys / self.journey_s

    @property
    def probe_misses(self) -> float | None:
        return during(self.cache.misses, self.cache_after.misses)

    def ms(self, samples: Sequence[float], fraction: float) -> float:
        return percentile(samples, fraction) * MS if samples else float("nan")


async def open_cases(cases: StaffCommands, first: int, count: int, concurrency: int, keep: int) -> list[CaseState]:
    """Open cases number first .. first+count-1; returns the states of the first `keep` of them."""
    kept: list[CaseState | None] = [None] * min(keep, count)

    async def one(index: int) -> None:
        state = await cases.start_case(opening(first + index, prefix="SCALE"))
        if index < len(kept):
            kept[index] = state

    await in_parallel(count, concurrency, one)
    return [state for state in kept if state is not None]


async def complete_consent(cases: TimedCommands, states: Sequence[CaseState], concurrency: int) -> None:
    async def one(index: int) -> None:
        [task] = [t for t in states[index].open_tasks if t.kind is TaskKind.CONSENT]
        await cases.complete_task(task.task_id, STANDARD_OUTCOMES[TaskKind.CONSENT], PRACTITIONER)

    await in_parallel(len(states), concurrency, one)


async def main(
    levels: Sequence[int],
    concurrency: int,
    journeys: int,
    probe_concurrency: int,
    cold: int,
    demo_timings: bool,
    max_cached: int,
) -> None:
    started_run = time.perf_counter()
    results: list[Level] = []
    async with (
        pathway_stack(in_process_worker=False) as stack,
        worker_process(stack, PATHWAY_MAX_CACHED_WORKFLOWS=str(max_cached)) as worker,
    ):
        idle = worker.memory()
        print(
            f"worker pid {worker.pid}: {idle.rss / MIB:.0f} MiB resident before any case, caching at most "
            f"{max_cached:,} workflows; "
            f"opening {concurrency} at a time, probing with {journeys} journeys and {cold} cold "
            f"completions, {probe_concurrency} at a time",
            flush=True,
        )
        config = stack.cases.config if demo_timings else with_default_timings(stack.cases.config)
        sla = config.site("demo").screening_sla_minutes[Setting.CUSTODY]
        timings = "the shipped demo site's" if demo_timings else "SiteConfig's defaults, not the demo site's minutes"
        print(f"custody screening due {sla} minutes after opening ({timings})", flush=True)
        cases = TimedCommands.of(stack.cases, config)
        opened = 0
        for level in levels:
            step = level - opened
            began = time.perf_counter()
            untouched = await open_cases(cases, opened, step, concurrency, cold)
            open_s = time.perf_counter() - began
            opened = level
            memory = worker.memory()
            cache = await cache_figures(worker)
            print(
                f"{level:>7,} open: opened {step:,} in {open_s:.1f}s ({step / open_s:.1f}/s); worker "
                f"{memory.rss / MIB:.0f} MiB (peak {memory.peak / MIB:.0f} MiB); probing...",
                flush=True,
            )

            cases.samples.clear()
            began = time.perf_counter()
            await in_parallel(journeys, probe_concurrency, functools.partial(_journey, cases, level))
            journey_s = time.perf_counter() - began
            task_samples = list(cases.samples)

            cases.samples.clear()
            await complete_consent(cases, untouched, probe_concurrency)
            cold_samples = list(cases.samples)
            results.append(
                Level(
                    level,
                    step,
                    open_s,
                    memory,
                    worker.memory(),
                    cache,
                    await cache_figures(worker),
                    journeys,
                    journey_s,
                    task_samples,
                    cold_samples,
                )
            )
            # Each level's probe as it ends, so that a run stopped short still says what it measured.
            done = results[-1]
            print(
                f"{level:>7,} open: {done.journeys_per_s:.2f} journeys/s, task p50/p99 "
                f"{done.ms(task_samples, 0.5):.0f}/{done.ms(task_samples, 0.99):.0f} ms, cold p50/p99 "
                f"{done.ms(cold_samples, 0.5):.0f}/{done.ms(cold_samples, 0.99):.0f} ms; worker peak "
                f"{done.memory_after.peak / MIB:.0f} MiB",
                flush=True,
            )
    wall_s = time.perf_counter() - started_run
    report(results, idle, concurrency, max_cached, wall_s, cases.catching_up)


async def _journey(cases: StaffCommands, level: int, number: int) -> None:
    await journey(cases, level * 1000 + number, prefix="PROBE")


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(
    results: Sequence[Level], idle: Memory, concurrency: int, max_cached: int, wall_s: float, catching_up: int
) -> None:
    opened = sum(level.opened for level in results)
    open_s = sum(level.open_s for level in results)
    print(
        f"\nopened {opened:,} cases in {open_s:.1f}s: {opened / open_s:.1f} cases/s ({concurrency} at a time); "
        f"worker {idle.rss / MIB:.0f} MiB resident before the first case, caching at most {max_cached:,} "
        f"workflows; whole run {wall_s:.0f}s; {catching_up} commands refused as case_catching_up and tried again\n"
    )
    header = (
        f"{'open cases':>10} {'opened/s':>9} {'RSS MiB':>8} {'peak MiB':>9} {'cached':>7} {'evicted':>8} "
        f"{'misses':>7} {'journeys/s':>11} {'task p50':>9} {'task p99':>9} {'cold p50':>9} {'cold p99':>9}"
    )
    print(header)
    print("-" * len(header))
    for level in results:
        print(
            f"{level.open_cases:>10,} {level.open_rate:>9.1f} {level.memory.rss / MIB:>8.0f} "
            f"{level.memory_after.peak / MIB:>9.0f} {number(level.cache.size):>7} {number(level.cache.evictions):>8} "
            f"{number(level.probe_misses):>7} {level.journeys_per_s:>11.2f} "
            f"{level.ms(level.task_samples, 0.5):>6.0f} ms {level.ms(level.task_samples, 0.99):>6.0f} ms "
            f"{level.ms(level.cold_samples, 0.5):>6.0f} ms {level.ms(level.cold_samples, 0.99):>6.0f} ms"
        )
    print(
        "\nRSS: the worker's VmRSS once the level was reached; peak: its VmHWM after the probe. cached: workflows in"
        "\nits cache at the level (at most max_cached_workflows, PATHWAY_MAX_CACHED_WORKFLOWS: --max-cached);"
        "\nevicted: workflows evicted so far to make room; misses: workflow tasks during the probe with no"
        "\ncached instance (history replayed). journeys/s and task p50/p99: the probe's journeys and their task"
        "\ncompletions; cold: completing the consent task of cases opened at the start of the step."
    )
    low, high = results[0], results[-1]
    if len(results) > 1:
        print(
            f"\nfrom {low.open_cases:,} to {high.open_cases:,} open: "
            f"journeys/s x{high.journeys_per_s / low.journeys_per_s:.2f}, "
            f"task p50 x{high.ms(high.task_samples, 0.5) / low.ms(low.task_samples, 0.5):.2f}, "
            f"task p99 x{high.ms(high.task_samples, 0.99) / low.ms(low.task_samples, 0.99):.2f}, "
            f"RSS x{high.memory.rss / low.memory.rss:.2f}"
        )
    reached = high.open_cases >= TARGET_OPEN
    met = reached and high.memory_after.peak < TARGET_RSS
    print(
        f"\ntarget: {TARGET_OPEN:,} open cases with the worker's resident memory under {TARGET_RSS // MIB:,} MiB: "
        f"{high.open_cases:,} open, peak {high.memory_after.peak / MIB:.0f} MiB: "
        + (
            "met"
            if met
            else ("NOT MET" if reached else f"not measured (only {high.open_cases:,} opened; see --levels)")
        )
    )
    figures: dict[str, object] = {
        "open_cases": high.open_cases,
        "concurrency": concurrency,
        "open_per_s": round(opened / open_s, 1),
        "max_cached_workflows": max_cached,
        "idle_rss_mib": round(idle.rss / MIB),
        "probe_journeys": high.journeys,
    }
    for name, level in (("low", low), ("high", high)):
        figures |= {
            f"{name}_open": level.open_cases,
            f"{name}_rss_mib": round(level.memory.rss / MIB),
            f"{name}_peak_mib": round(level.memory_after.peak / MIB),
            f"{name}_cached": number(level.cache.size),
            f"{name}_evicted": number(level.cache.evictions),
            f"{name}_probe_misses": number(level.probe_misses),
            f"{name}_journeys_per_s": round(level.journeys_per_s, 2),
            f"{name}_task_p50_ms": round(level.ms(level.task_samples, 0.5)),
            f"{name}_task_p99_ms": round(level.ms(level.task_samples, 0.99)),
            f"{name}_cold_p50_ms": round(level.ms(level.cold_samples, 0.5)),
            f"{name}_cold_p99_ms": round(level.ms(level.cold_samples, 0.99)),
        }
    # Every level's peak and cold p99 in one cell each (levels ';'-separated, in order), whatever the levels.
    figures |= {
        "levels": ";".join(str(level.open_cases) for level in results),
        "peak_mib_by_level": ";".join(str(round(level.memory_after.peak / MIB)) for level in results),
        "cold_p99_ms_by_level": ";".join(str(round(level.ms(level.cold_samples, 0.99))) for level in results),
        "target_open": TARGET_OPEN,
        "target_rss_mib_below": TARGET_RSS // MIB,
        "wall_s": round(wall_s),
        "catching_up_retries": catching_up,
        "met": met,
    }
    print(f"\nrow written to {write_row('scale', figures)}")


def levels_from(text: str | None, open_cases: int) -> list[int]:
    if text:
        levels = sorted({int(part) for part in text.split(",") if part.strip()})
    else:
        levels = sorted({min(1000, open_cases), open_cases})
    if not levels or levels[0] <= 0:
        raise SystemExit("levels must be positive numbers of open cases")
    return levels


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open-cases", type=int, default=DEFAULT_OPEN, help=f"the last level (default {DEFAULT_OPEN})")
    parser.add_argument("--levels", help="comma-separated levels to measure at (default: 1000 and --open-cases)")
    parser.add_argument("--concurrency", type=int, default=64, help="cases opened at a time")
    parser.add_argument("--probe-journeys", type=int, default=20)
    parser.add_argument("--probe-concurrency", type=int, default=8)
    parser.add_argument("--cold", type=int, default=50, help="cold consent completions per level")
    parser.add_argument(
        "--max-cached",
        type=int,
        default=DEFAULT_MAX_CACHED_WORKFLOWS,
        help=f"the worker's PATHWAY_MAX_CACHED_WORKFLOWS (default {DEFAULT_MAX_CACHED_WORKFLOWS})",
    )
    parser.add_argument(
        "--demo-timings",
        action="store_true",
        help="keep the demo site's SLAs in minutes (open cases then wake for reminders and escalations)",
    )
    arguments = parser.parse_args()
    asyncio.run(
        main(
            levels_from(arguments.levels, arguments.open_cases),
            arguments.concurrency,
            arguments.probe_journeys,
            arguments.probe_concurrency,
            arguments.cold,
            arguments.demo_timings,
            arguments.max_cached,
        )
    )
