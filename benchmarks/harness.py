"""Measuring: interleaved timing with medians, bytes per instance, and sampling profiles.

Machines are noisy and absolute times do not compare between runs, so every comparison here is
made inside one run: the cases of a comparison are timed in turns (round-robin, the order
rotating each round), and ratios are taken between their medians. The garbage collector is
paused during a timed batch, as `timeit` does.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Breakdown",
    "Case",
    "Profile",
    "ProfileRow",
    "Settings",
    "Timing",
    "bytes_per_instance",
    "breakdown",
    "compare",
    "loop_case",
    "paired_ratio",
    "profile",
]


@dataclass(frozen=True)
class Settings:
    """How hard to measure.

    Attributes:
        repeats: timed batches per case (the median is taken over them).
        batch_seconds: the aimed-for length of one timed batch.
        memory_instances: how many instances a bytes-per-instance measurement averages over.
        profile_seconds: how long a profile samples a missed target's workload.
        import_repeats: fresh interpreters per import measurement.
        service_seconds: the length of one timed batch of service commands (I/O: longer).
        service_commands: commands replayed step by step to explain a service miss.
    """

    repeats: int
    batch_seconds: float
    memory_instances: int
    profile_seconds: float
    import_repeats: int
    service_seconds: float
    service_commands: int

    @classmethod
    def full(cls) -> Settings:
        """The full run (about two minutes)."""
        return cls(15, 0.08, 2_000, 1.5, 15, 0.25, 300)

    @classmethod
    def quick(cls) -> Settings:
        """The smoke run (well under 30 seconds): fewer, shorter batches."""
        return cls(3, 0.02, 300, 0.3, 7, 0.05, 60)


@dataclass(frozen=True)
class Case:
    """One contender of a comparison.

    Attributes:
        label: the row label.
        prepare: given a batch size ``n``, does the untimed set-up and returns the timed work;
            the work returns how many operations it did (the time is divided by that).
        limit: the largest batch size (bounds the memory of pre-built instances).
        seconds: a batch length of its own (I/O-bound cases want longer batches).
    """

    label: str
    prepare: Callable[[int], Callable[[], int]]
    limit: int = 200_000
    seconds: float | None = None


@dataclass(frozen=True)
class Timing:
    """The seconds per operation of one case, one value per timed batch."""

    label: str
    per_op: tuple[float, ...] = field(repr=False)

    @property
    def median(self) -> float:
        """The median seconds per operation."""
        return statistics.median(self.per_op)

    @property
    def spread(self) -> float:
        """(max - min) / median over the batches: how noisy this case was."""
        return (max(self.per_op) - min(self.per_op)) / self.median


def paired_ratio(case: Timing, reference: Timing) -> float:
    """The median over rounds of ``case / reference`` timed in the same round.

    Each round times every case back to back, so a per-round ratio cancels the slow swings in
    the machine's speed (other processes, frequency scaling) that a ratio of medians keeps.
    """
    return statistics.median(
        mine / theirs for mine, theirs in zip(case.per_op, reference.per_op, strict=True)
    )


def _run(work: Callable[[], int]) -> tuple[float, int]:
    """Run ``work`` once, the collector paused: the seconds it took and its operations."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        ops = work()
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    if ops <= 0:
        raise ValueError("a timed work must report at least one operation")
    return elapsed, ops


def _batch_size(case: Case, seconds: float) -> int:
    """The batch size that makes one timed batch last about ``seconds`` (doubles as warm-up)."""
    n = 4
    while True:
        elapsed, _ = _run(case.prepare(n))
        if elapsed >= seconds / 4 or n >= case.limit:
            return max(1, min(case.limit, round(n * seconds / max(elapsed, 1e-9))))
        n *= 4


def compare(cases: Sequence[Case], settings: Settings) -> dict[str, Timing]:
    """Time every case in turns and return each one's per-operation times, by label."""
    sizes = {
        case.label: _batch_size(case, case.seconds or settings.batch_seconds) for case in cases
    }
    for case in cases:  # one discarded round: the first batch after calibration runs slow
        _run(case.prepare(sizes[case.label]))
    samples: dict[str, list[float]] = {case.label: [] for case in cases}
    for round_ in range(settings.repeats):
        shift = round_ % len(cases)
        for case in [*cases[shift:], *cases[:shift]]:
            elapsed, ops = _run(case.prepare(sizes[case.label]))
            samples[case.label].append(elapsed / ops)
    return {label: Timing(label, tuple(values)) for label, values in samples.items()}


def loop_case(label: str, call: Callable[[], object]) -> Case:
    """A case that calls ``call`` once per operation."""

    def prepare(n: int) -> Callable[[], int]:
        def work() -> int:
            for _ in range(n):
                call()
            return n

        return work

    return Case(label, prepare)


@dataclass(frozen=True)
class Breakdown:
    """A workload timed whole and piece by piece, without a profiler's distortion.

    Attributes:
        title: the heading.
        whole: the seconds per operation of the whole workload.
        parts: ``(label, seconds per operation)`` of each piece; pieces may nest or overlap,
            as their labels say.
        note: how the pieces were measured.
    """

    title: str
    whole: float
    parts: tuple[tuple[str, float], ...]
    note: str = ""


def breakdown(
    title: str,
    whole: Callable[[], object],
    parts: Sequence[tuple[str, Callable[[], object]]],
    settings: Settings,
    note: str = "",
) -> Breakdown:
    """Time ``whole`` and each of ``parts`` in turns (as `compare` does)."""
    cases = [loop_case("(whole)", whole), *(loop_case(label, call) for label, call in parts)]
    timings = compare(cases, settings)
    return Breakdown(
        title,
        timings["(whole)"].median,
        tuple((label, timings[label].median) for label, _ in parts),
        note,
    )


def bytes_per_instance(create: Callable[[str], Any], count: int) -> float:
    """The traced memory one instance holds, averaged over ``count`` live instances.

    The ids and the list that keeps the instances alive are made before tracing starts, so only
    what ``create`` allocates (and keeps) is counted.
    """
    ids = [f"mem-{i:08d}" for i in range(count)]
    keep: list[Any] = [None] * count
    for warm in range(8):  # first-call caches are not per-instance memory
        create(f"warm-{warm}")
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for index, ident in enumerate(ids):
            keep[index] = create(ident)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / count


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class ProfileRow:
    """One function of a profile: its own time and its inclusive time, as shares of the total."""

    function: str
    location: str
    own: float
    inclusive: float


@dataclass(frozen=True)
class Profile:
    """A sampling profile of one workload, reduced to its heaviest functions."""

    title: str
    samples_seconds: float
    rows: tuple[ProfileRow, ...]
    by_area: tuple[tuple[str, float], ...]
    steps: tuple[tuple[str, float], ...] = ()


def _area(path: str) -> str:
    """Group a file into a package (or the stdlib module) for the by-area summary."""
    if path.startswith("<"):
        return "C functions (sqlite3, re, json scanner, datetime, ...)"
    parts = path.replace("\\", "/").split("/")
    if "aliexpress_onboarding" in parts:
        index = parts.index("aliexpress_onboarding")
        return "aliexpress_onboarding/" + "/".join(parts[index + 1 :])
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            return parts[parts.index(marker) + 1]
    if "benchmarks" in parts:
        return "benchmark harness"
    return "stdlib " + parts[-1]


def profile(
    title: str,
    case: Case,
    seconds: float,
    *,
    steps: Sequence[tuple[str, str, str]] = (),
    top: int = 12,
) -> Profile:
    """Sample ``case``'s timed work with pyinstrument for about ``seconds`` (set-up unsampled).

    Args:
        title: the profile's heading.
        case: the workload; its set-up runs outside the sampled time.
        seconds: how long to sample.
        steps: ``(label, file name ending, function name)`` of the functions whose inclusive
            share to report as "where the time goes".
        top: how many functions to list by own time.

    Returns:
        The ``top`` functions by own time (with their inclusive share), the own time summed
        by package or module, and the inclusive share of each of ``steps``.

    Raises:
        ImportError: pyinstrument is not installed.
    """
    from pyinstrument import Profiler

    size = min(case.limit, 200)
    case.prepare(8)()  # warm caches outside the profile
    profiler = Profiler(interval=0.0002)
    sampled = 0.0
    while sampled < seconds:
        work = case.prepare(size)
        start = time.perf_counter()
        profiler.start()
        work()
        profiler.stop()
        sampled += time.perf_counter() - start
    session = profiler.last_session
    root = None if session is None else session.root_frame()
    if root is None:
        return Profile(title, 0.0, (), ())
    own: dict[tuple[str, str], float] = {}
    inclusive: dict[tuple[str, str], float] = {}
    areas: dict[str, float] = {}
    step_times = dict.fromkeys((label for label, _, _ in steps), 0.0)

    def visit(frame: Any, open_keys: frozenset[tuple[str, str]]) -> None:
        children = [c for c in frame.children if not c.is_synthetic]
        key = (frame.function, f"{frame.file_path_short}:{frame.line_no}")
        self_time = frame.time - sum(c.time for c in children)
        own[key] = own.get(key, 0.0) + self_time
        path = frame.file_path or "<built-in>"
        area = _area(path)
        areas[area] = areas.get(area, 0.0) + self_time
        if key not in open_keys:  # recursion: count the outermost call only
            inclusive[key] = inclusive.get(key, 0.0) + frame.time
            for label, ending, function in steps:
                if frame.function == function and path.endswith(ending):
                    step_times[label] += frame.time
        for child in children:
            visit(child, open_keys | {key})

    visit(root, frozenset())
    total = root.time or 1.0
    rows = sorted(own, key=lambda k: -own[k])[:top]
    return Profile(
        title,
        total,
        tuple(
            ProfileRow(f, loc, own[(f, loc)] / total, inclusive[(f, loc)] / total)
            for f, loc in rows
        ),
        tuple(sorted(((a, t / total) for a, t in areas.items()), key=lambda item: -item[1])),
        tuple((label, t / total) for label, t in step_times.items()),
    )
