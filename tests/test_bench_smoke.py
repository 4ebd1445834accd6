"""The speed goals of `make bench` hold roughly: a quick run fails only far past a goal.

``benchmarks/run.py --smoke --json`` runs the goals in a fresh interpreter (the test process's
threads and caches stay out of the figures), each a ratio of two workloads timed in turns, and
leaves out the one absolute goal (a throughput). The dev environment has no peer library, so
the goals against `transitions` and `python-statemachine` come back unmeasured; the ratio to
the hand-written floor guards the same code. `make bench` judges the goals themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

MARGIN = 2.5
"""How far past its goal a ratio must be to fail: a busy 2-CPU machine moves these ratios by
tens of percent; a regression that matters moves them by more than this."""

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def goals() -> list[dict[str, Any]]:
    """Every goal of the smoke run: its name, bound, direction and measured ratio."""
    completed = subprocess.run(
        [sys.executable, str(RUN), "--smoke", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert 0 == completed.returncode, completed.stderr[-4000:]
    found: list[dict[str, Any]] = json.loads(completed.stdout)
    return found


def _far_past(goal: dict[str, Any]) -> bool:
    figure, bound = float(goal["figure"]), float(goal["bound"])
    return figure * MARGIN < bound if goal["at_least"] else figure > bound * MARGIN


def test_every_goal_without_a_peer_is_measured(goals: list[dict[str, Any]]) -> None:
    """Only a goal against a peer library that is not installed may go unmeasured."""
    unmeasured = [g["goal"] for g in goals if g["figure"] is None]
    assert [] == [name for name in unmeasured if " / ours" not in name]
    assert any(g["figure"] is not None and "hand-written floor" in g["goal"] for g in goals)


def test_no_ratio_is_far_past_its_goal(goals: list[dict[str, Any]]) -> None:
    """Every measured ratio is within MARGIN times its goal."""
    far = [
        f"{g['goal']}: {g['figure']:.2f}x, goal {'≥' if g['at_least'] else '≤'} {g['bound']}x"
        f" (per-round {g['rounds']})"
        for g in goals
        if g["figure"] is not None and _far_past(g)
    ]
    assert [] == far
