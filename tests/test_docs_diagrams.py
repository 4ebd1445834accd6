"""The docs' state-diagram renderer (docs/_ext/state_svg.py): every table drawn, legibly."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding.engine import MACHINES

_SVG = "{http://www.w3.org/2000/svg}"


def _load_renderer() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "docs" / "_ext" / "state_svg.py"
    spec = importlib.util.spec_from_file_location("state_svg", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("state_svg", module)
    spec.loader.exec_module(module)
    return module


state_svg = _load_renderer()


def _draw(mermaid: str) -> ET.Element:
    transitions = state_svg.parse_mermaid(mermaid)
    return ET.fromstring(state_svg.render_svg(transitions, ident="sd", title="states"))


def _texts(svg: ET.Element, group: str) -> list[str]:
    return [
        text.text or ""
        for g in svg.iter(f"{_SVG}g")
        if g.get("class") == group
        for text in g.iter(f"{_SVG}text")
    ]


def _boxes(svg: ET.Element) -> list[tuple[float, float, float, float]]:
    """The drawn states, labels and start/end circles as (left, top, right, bottom)."""
    boxes = []
    for g in svg.iter(f"{_SVG}g"):
        if g.get("class") in ("state", "label"):
            rect = g.find(f"{_SVG}rect")
            assert rect is not None
            x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
            boxes.append((x, y, x + float(rect.get("width", 0)), y + float(rect.get("height", 0))))
    for circle in svg.iter(f"{_SVG}circle"):
        if circle.get("class") in ("start", "ring"):
            x, y, r = (float(circle.get(k, 0)) for k in ("cx", "cy", "r"))
            boxes.append((x - r, y - r, x + r, y + r))
    return boxes


def _overlapping(boxes: list[tuple[float, float, float, float]]) -> list[tuple[object, object]]:
    return [
        (a, b)
        for a, b in itertools.combinations(boxes, 2)
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_every_table_is_drawn_with_each_state_once_and_every_label(name: str) -> None:
    """Each state is one box; each transition's label is written on the picture."""
    machine = MACHINES[name]
    svg = _draw(machine.to_mermaid())
    assert sorted(state.name for state in machine.states) == sorted(_texts(svg, "state"))
    written = set(_texts(svg, "label")) | set(_texts(svg, "loop"))
    for transition in state_svg.parse_mermaid(machine.to_mermaid()):
        assert transition.label in written | {""}
    assert [] == _overlapping(_boxes(svg))


@st.composite
def _state_diagrams(draw: st.DrawFn) -> str:
    """A random table: every state reachable from the start, back edges and self-loops too."""
    count = draw(st.integers(1, 7))
    states = [f"S{i}" for i in range(count)]
    edges = [(states[draw(st.integers(0, i - 1))], states[i]) for i in range(1, count)]
    pairs = st.tuples(st.sampled_from(states), st.sampled_from(states))
    edges += draw(st.lists(pairs, max_size=8))
    lines = ["stateDiagram-v2", f"    [*] --> S0: create_{count} (owner)"]
    for number, (source, target) in enumerate(edges):
        lines.append(f"    {source} --> {target}: command_{number} (seller, system)")
    lines += [f"    {s} --> [*]" for s in states if s not in {source for source, _ in edges}]
    return "\n".join(lines) + "\n"


@given(_state_diagrams())
def test_no_two_boxes_of_any_table_overlap(mermaid: str) -> None:
    """States, labels and the start/end circles never cover each other, whatever the table."""
    svg = _draw(mermaid)
    assert [] == _overlapping(_boxes(svg))
    for transition in state_svg.parse_mermaid(mermaid):
        assert transition.label == "" or any(
            transition.label in text for text in _texts(svg, "label") + _texts(svg, "loop")
        )


def test_text_that_is_not_a_state_diagram_is_refused() -> None:
    """Only the subset StateMachine.to_mermaid writes is drawn; anything else is an error."""
    with pytest.raises(ValueError, match="stateDiagram-v2"):
        state_svg.parse_mermaid("flowchart LR\n    A --> B\n")
    with pytest.raises(ValueError, match="not a transition"):
        state_svg.parse_mermaid("stateDiagram-v2\n    state A {\n")
