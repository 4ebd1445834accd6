"""Measuring: CPU time per operation, the least of interleaved batches; and where it goes.

Other work on a shared machine can only slow a batch down, so a case's least time over many
batches is its cost with the least disturbance. The cases of one comparison are timed in turns
(the order rotating each round), so a slow spell hits them all alike, and every figure is a
ratio between cases timed in the same process: absolute times do not compare between runs. The
time is the process's CPU time (every thread: a command's background dispatch included), with
the garbage collector paused during a batch, as `timeit` does.
"""

from __future__ import annotations

import cProfile
import gc
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Case",
    "Hotspot",
    "Ratio",
    "Settings",
    "Timing",
    "calls",
    "compare",
    "compare_fresh",
    "loop",
    "profile",
    "ratio",
    "statements",
]


@dataclass(frozen=True)
class Settings:
    """How hard to measure, and whether to explain a missed goal.

    Attributes:
        rounds: timed batches per case (after one warm-up).
        batch_seconds: the CPU time one batch aims at.
        fresh_runs: fresh interpreters per start-up case.
        explain: take a missed goal apart (profiles, counts), as `make bench` does.
    """

    rounds: int
    batch_seconds: float
    fresh_runs: int
    explain: bool

    @classmethod
    def full(cls) -> Settings:
        """`make bench` (about two minutes)."""
        return cls(rounds=9, batch_seconds=0.06, fresh_runs=15, explain=True)

    @classmethod
    def smoke(cls) -> Settings:
        """The smoke run of `make test` (under ten seconds)."""
        return cls(rounds=5, batch_seconds=0.02, fresh_runs=7, explain=False)


@dataclass(frozen=True)
class Case:
    """One contender of a comparison.

    ``prepare(n)`` does the untimed set-up of ``n`` operations and returns the timed work,
    which returns how many operations it did.
    """

    label: str
    prepare: Callable[[int], Callable[[], int]]
    limit: int = 100_000


def loop(label: str, call: Callable[[], object], limit: int = 100_000) -> Case:
    """A case that calls ``call`` once per operation."""

    def prepare(n: int) -> Callable[[], int]:
        def work() -> int:
            for _ in range(n):
                call()
            return n

        return work

    return Case(label, prepare, limit)


@dataclass(frozen=True)
class Timing:
    """CPU seconds per operation of one case, one value per round."""

    label: str
    per_op: tuple[float, ...]

    @property
    def best(self) -> float:
        """The least seconds per operation: the cost with the least disturbance."""
        return min(self.per_op)

    @property
    def spread(self) -> float:
        """How much slower the median round was than the best one (0.05: 5 %)."""
        return statistics.median(self.per_op) / self.best - 1


@dataclass(frozen=True)
class Ratio:
    """``case / reference`` of their best times, and the range of the per-round ratios."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.2f}x" if self.value < 10 else f"{self.value:.1f}x"

    @property
    def range(self) -> str:
        """The per-round ratios' range, the run's noise: ``1.9-2.3``."""
        digits = 2 if self.high < 10 else 1
        return f"{self.low:.{digits}f}-{self.high:.{digits}f}"


def ratio(case: Timing, reference: Timing) -> Ratio:
    """``case / reference``: the ratio of their best times, and of each round's times."""
    rounds = [mine / theirs for mine, theirs in zip(case.per_op, reference.per_op, strict=True)]
    return Ratio(case.best / reference.best, min(rounds), max(rounds))


def _run(work: Callable[[], int]) -> tuple[float, int]:
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        ops = work()
        spent = time.process_time() - start
    finally:
        gc.enable()
    if ops <= 0:
        raise ValueError("a timed work must report at least one operation")
    return spent, ops


def _batch_size(case: Case, seconds: float) -> int:
    """The batch size whose run takes about ``seconds`` of CPU time (doubles as warm-up)."""
    n = 2
    while True:
        spent, _ = _run(case.prepare(n))
        if spent >= seconds / 4 or n >= case.limit:
            return max(1, min(case.limit, round(n * seconds / max(spent, 1e-6))))
        n *= 4


def compare(cases: Sequence[Case], settings: Settings) -> dict[str, Timing]:
    """Time every case in turns, ``settings.rounds`` times; each one's timing, by label."""
    sizes = {case.label: _batch_size(case, settings.batch_seconds) for case in cases}
    per_op: dict[str, list[float]] = {case.label: [] for case in cases}
    for round_ in range(settings.rounds + 1):  # round 0 warms up and is not counted
        shift = round_ % len(cases)
        for case in [*cases[shift:], *cases[:shift]]:
            spent, ops = _run(case.prepare(sizes[case.label]))
            if round_:
                per_op[case.label].append(spent / ops)
    return {label: Timing(label, tuple(values)) for label, values in per_op.items()}


def _fresh(statement: str) -> float:
    """The CPU seconds of a fresh interpreter running ``statement`` (start-up included)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    process = subprocess.Popen(
        [sys.executable, "-c", statement], cwd=tempfile.gettempdir(), env=env
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"python -c {statement!r} exited with {process.returncode}")
    return usage.ru_utime + usage.ru_stime


def compare_fresh(statements: Mapping[str, str], settings: Settings) -> dict[str, Timing]:
    """Run each statement in fresh interpreters, in turns; each one's CPU time, by label."""
    labels = list(statements)
    for statement in statements.values():  # bytecode caches and the file system cache
        _fresh(statement)
    seconds: dict[str, list[float]] = {label: [] for label in labels}
    for round_ in range(settings.fresh_runs):
        shift = round_ % len(labels)
        for label in [*labels[shift:], *labels[:shift]]:
            seconds[label].append(_fresh(statements[label]))
    return {label: Timing(label, tuple(values)) for label, values in seconds.items()}


@dataclass(frozen=True)
class Hotspot:
    """A function of a profile: calls per operation, own and cumulative share of the time."""

    function: str
    calls: float
    own: float
    cumulative: float


def profile(work: Callable[[], int], *, top: int = 12) -> list[Hotspot]:
    """Profile ``work`` (which returns its operation count): the functions with most own time.

    cProfile's own cost per call inflates code that makes many small calls; shares compare
    functions of one profile, not profiles.
    """
    profiler = cProfile.Profile()
    ops = profiler.runcall(work)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in stats.values()) or 1.0
    rows = []
    for (path, line, name), (_, calls, own, cumulative, _) in stats.items():
        where = "" if path == "~" else f" ({_short(path)}:{line})"
        rows.append(Hotspot(f"{name}{where}", calls / ops, own / total, cumulative / total))
    return sorted(rows, key=lambda row: -row.own)[:top]


def _short(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    for marker in ("aliexpress_onboarding", "site-packages", "benchmarks"):
        if marker in parts:
            return "/".join(parts[parts.index(marker) + (marker == "site-packages") :])
    return parts[-1]


def calls(work: Callable[[], int], names: Sequence[str]) -> dict[str, float]:
    """How many times per operation ``work`` calls each function named in ``names``.

    A name is a function's own name (``from_dict``) or a C method's (``execute``); calls from
    every module count.
    """
    profiler = cProfile.Profile()
    ops = profiler.runcall(work)
    counted = dict.fromkeys(names, 0)
    for (_, _, name), (_, total, *_) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        for wanted in names:
            if name == wanted or name.startswith(f"<method '{wanted}' of"):
                counted[wanted] += total
    return {name: count / ops for name, count in counted.items()}


def statements(connection: Any, work: Callable[[], object]) -> tuple[dict[str, int], int]:
    """The SQL statements ``work`` runs on an sqlite3 connection, by kind, and its writes.

    Returns the statements counted by kind, and how many write transactions they make (a
    BEGIN…COMMIT, or a write run alone, in autocommit).
    """
    seen: list[str] = []
    connection.set_trace_callback(seen.append)
    try:
        work()
    finally:
        connection.set_trace_callback(None)
    kinds: dict[str, int] = {}
    writes, open_ = 0, False
    for statement in seen:
        words = statement.split()
        kind = " ".join(words[:2]) if words[0] in ("BEGIN", "INSERT") else words[0]
        kinds[kind] = kinds.get(kind, 0) + 1
        if words[0] == "BEGIN":
            writes, open_ = writes + 1, True
        elif words[0] in ("COMMIT", "ROLLBACK"):
            open_ = False
        elif not open_ and words[0] in ("INSERT", "UPDATE", "DELETE"):
            writes += 1
    return kinds, writes
