"""Draw a Mermaid ``stateDiagram-v2`` as SVG, with nothing but the standard library.

Only the subset `StateMachine.to_mermaid` writes: ``A --> B: label``, ``[*] --> A: label``
(the creation) and ``A --> [*]`` (a final state). The layout is a small layered one, top to
bottom, in the manner of Sugiyama (and Graphviz's ``dot``):

1. edges that point back (found by a depth-first walk from ``[*]``) are turned round for
   layering only; each state's rank is the longest path to it;
2. every edge gets a node of its own in the rank between its ends, carrying its label (the
   labels of parallel edges share one), and a placeholder in every further rank it crosses, so
   labels never overlap states or each other;
3. median sweeps, then swaps of neighbours, order each rank (the ordering with the fewest
   crossings wins), and each
   node is placed as near the mean of its neighbours as the ranks' order allows (isotonic
   regression, so nothing overlaps);
4. edges are smooth curves through their placeholders; a state's own loops become one loop on
   its right with their labels beside it.

Text is monospace (identifiers) so its width is known without a font. Colours are Furo's CSS
variables with fallbacks, so a diagram follows the light and dark themes when inlined in a page.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = ["Transition", "parse_mermaid", "render_svg"]

START = "[*]"
_LINE = re.compile(r"^\s*(?P<source>\S+) --> (?P<target>\S+?)(?::\s*(?P<label>.*?))?\s*$")

_CHAR = 0.62  # width of a monospace character, in ems
_STATE_FONT, _LABEL_FONT = 13.0, 12.0
_LINE_HEIGHT = 16.0
_PAD_X, _PAD_Y = 14.0, 9.0
_RADIUS = 7.0  # the start and end circles
_SEP = 22.0  # between neighbours in a rank
_RANK_GAP = 20.0  # between ranks
_LOOP = 30.0  # how far a self-loop reaches right of its state
_MARGIN = 12.0


@dataclass(frozen=True)
class Transition:
    """One edge: ``source --> target: label``; ``source`` or ``target`` is ``[*]`` for start/end."""

    source: str
    target: str
    label: str


def parse_mermaid(text: str) -> list[Transition]:
    """The transitions of a ``stateDiagram-v2`` as `StateMachine.to_mermaid` writes it.

    Raises:
        ValueError: the text is not a state diagram, or has a line this subset does not know.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or lines[0].strip() != "stateDiagram-v2":
        raise ValueError("a state diagram starts with 'stateDiagram-v2'")
    transitions = []
    for line in lines[1:]:
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"not a transition: {line.strip()!r}")
        transitions.append(Transition(match["source"], match["target"], match["label"] or ""))
    return transitions


@dataclass(eq=False)
class _Node:
    """A box in one rank: a state, the start or an end circle, a label or a placeholder."""

    kind: str  # "state", "start", "end", "label" or "via"
    lines: list[str]
    width: float = 0.0
    height: float = 0.0
    extra: float = 0.0  # room on the right for a self-loop and its labels
    loops: list[str] = field(default_factory=list)
    rank: int = 0
    x: float = 0.0  # centre of the box (not counting ``extra``)
    y: float = 0.0


@dataclass(eq=False)
class _Edge:
    """One drawn edge: the nodes it passes through from source to target (its label is one)."""

    path: list[_Node]


def _text_width(text: str, font: float) -> float:
    return len(text) * font * _CHAR


def _sized(node: _Node) -> _Node:
    if node.kind in ("start", "end"):
        node.width = node.height = 2 * _RADIUS
    elif node.kind == "state":
        node.width = _text_width(node.lines[0], _STATE_FONT) + 2 * _PAD_X
        node.height = _STATE_FONT + 2 * _PAD_Y
        if node.loops:
            node.extra = _LOOP + 8 + max(_text_width(t, _LABEL_FONT) for t in node.loops)
            node.height = max(node.height, len(node.loops) * _LINE_HEIGHT + 8)
    elif node.kind == "label":
        node.width = max(_text_width(t, _LABEL_FONT) for t in node.lines) + 10
        node.height = len(node.lines) * _LINE_HEIGHT + 4
    else:
        node.width = 8.0
    return node


def _ranks(states: Sequence[str], edges: Sequence[tuple[str, str]], start: str) -> dict[str, int]:
    """Longest-path ranks, after turning round the edges a depth-first walk finds pointing back."""
    successors: dict[str, list[str]] = {state: [] for state in states}
    for source, target in edges:
        if source != target:
            successors[source].append(target)
    forward: dict[str, list[str]] = {state: [] for state in states}
    colour: dict[str, int] = {}  # 1 on the walk's stack, 2 done
    finished: list[str] = []

    def walk(state: str) -> None:
        colour[state] = 1
        for target in successors[state]:
            if colour.get(target) == 1:
                forward[target].append(state)  # a back edge, turned round
            else:
                forward[state].append(target)
                if target not in colour:
                    walk(target)
        colour[state] = 2
        finished.append(state)

    for state in [start, *states]:
        if state not in colour:
            walk(state)
    rank = dict.fromkeys(states, 0)
    for state in reversed(finished):  # a topological order of the turned-round graph
        for target in forward[state]:
            rank[target] = max(rank[target], rank[state] + 1)
    return rank


def _layout(
    transitions: Sequence[Transition],
) -> tuple[list[list[_Node]], list[_Edge], list[_Node]]:
    """Nodes by rank, the edges through them, and the states (in order of appearance)."""
    nodes: dict[str, _Node] = {START: _Node("start", [])}
    grouped: dict[tuple[str, str], list[str]] = {}
    for t in transitions:
        source = t.source
        target = f"{START}{t.source}" if t.target == START else t.target
        for name in (source, target):
            if name not in nodes:
                nodes[name] = _Node("end" if name.startswith(START) else "state", [name])
        if source == target:
            nodes[source].loops.append(t.label)
        else:
            grouped.setdefault((source, target), []).append(t.label)
    for node in nodes.values():
        _sized(node)
    rank = _ranks(list(nodes), list(grouped), START)
    ranks: list[list[_Node]] = [[] for _ in range(2 * max(rank.values()) + 1)]
    for name, node in nodes.items():
        node.rank = 2 * rank[name]
        ranks[node.rank].append(node)
    edges = []
    for (source, target), labels in grouped.items():
        step = 1 if nodes[source].rank < nodes[target].rank else -1
        between = range(nodes[source].rank + step, nodes[target].rank, step)
        # The label sits next to the source (an edge pointing back: next to its target).
        label_rank = min(nodes[source].rank, nodes[target].rank) + 1
        labelled = [t for t in labels if t]
        path = [nodes[source]]
        for r in between:
            kind = "label" if r == label_rank and labelled else "via"
            via = _sized(_Node(kind, labelled if kind == "label" else []))
            via.rank = r
            ranks[r].append(via)
            path.append(via)
        path.append(nodes[target])
        edges.append(_Edge(path))
    _order(ranks, edges)
    _place(ranks, edges)
    states = [node for node in nodes.values() if node.kind == "state"]
    return ranks, edges, states


def _neighbours(edges: Sequence[_Edge]) -> dict[_Node, list[_Node]]:
    near: dict[_Node, list[_Node]] = {}
    for edge in edges:
        for a, b in itertools.pairwise(edge.path):
            near.setdefault(a, []).append(b)
            near.setdefault(b, []).append(a)
    return near


def _crossings(ranks: Sequence[Sequence[_Node]], edges: Sequence[_Edge]) -> int:
    position = {node: i for rank in ranks for i, node in enumerate(rank)}
    segments = [
        tuple(sorted(((a.rank, position[a]), (b.rank, position[b]))))
        for edge in edges
        for a, b in itertools.pairwise(edge.path)
    ]
    return sum(
        1
        for i, (a1, b1) in enumerate(segments)
        for a2, b2 in segments[i + 1 :]
        if a1[0] == a2[0] and (a1[1] - a2[1]) * (b1[1] - b2[1]) < 0
    )


def _order(ranks: list[list[_Node]], edges: Sequence[_Edge]) -> None:
    """Median sweeps, down and up, each followed by `_transpose`; keep the best order."""
    near = _neighbours(edges)
    best, best_crossings = [list(rank) for rank in ranks], _crossings(ranks, edges)
    for sweep in range(8):
        down = sweep % 2 == 0
        for r in range(1, len(ranks)) if down else range(len(ranks) - 2, -1, -1):
            fixed = {node: i for i, node in enumerate(ranks[r - 1 if down else r + 1])}

            def median(node: _Node, i: int, fixed: dict[_Node, int] = fixed) -> float:
                seen = sorted(fixed[n] for n in near.get(node, []) if n in fixed)
                return seen[(len(seen) - 1) // 2] if seen else float(i)

            keyed = [(median(node, i), i, node) for i, node in enumerate(ranks[r])]
            ranks[r] = [node for _, _, node in sorted(keyed, key=lambda k: (k[0], k[1]))]
        crossings = _transpose(ranks, edges)
        if crossings < best_crossings:
            best, best_crossings = [list(rank) for rank in ranks], crossings
    ranks[:] = best


def _transpose(ranks: list[list[_Node]], edges: Sequence[_Edge]) -> int:
    """Swap neighbours in a rank while that removes crossings; return the crossings left."""
    crossings = _crossings(ranks, edges)
    improved = True
    while improved and crossings:
        improved = False
        for rank in ranks:
            for i in range(len(rank) - 1):
                rank[i], rank[i + 1] = rank[i + 1], rank[i]
                fewer = _crossings(ranks, edges)
                if fewer < crossings:
                    crossings, improved = fewer, True
                else:
                    rank[i], rank[i + 1] = rank[i + 1], rank[i]
    return crossings


def _isotonic(wanted: Sequence[float], gaps: Sequence[float]) -> list[float]:
    """The positions nearest ``wanted`` (least squares) with ``x[i+1] - x[i] >= gaps[i]``."""
    offsets = [0.0]
    for gap in gaps:
        offsets.append(offsets[-1] + gap)
    blocks: list[list[float]] = []  # [mean, count]
    for want, offset in zip(wanted, offsets, strict=True):
        blocks.append([want - offset, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, count = blocks.pop()
            total = blocks[-1][1] + count
            blocks[-1] = [(blocks[-1][0] * blocks[-1][1] + mean * count) / total, total]
    values = [mean for mean, count in blocks for _ in range(int(count))]
    return [value + offset for value, offset in zip(values, offsets, strict=True)]


def _place(ranks: Sequence[list[_Node]], edges: Sequence[_Edge]) -> None:
    """x: near the neighbours' mean, never overlapping; y: rank by rank, centred."""
    near = _neighbours(edges)
    for rank in ranks:  # centred on 0, so a chain starts straight
        x = -sum(node.width + node.extra + _SEP for node in rank) / 2
        for node in rank:
            node.x = x + node.width / 2
            x += node.width + node.extra + _SEP
    for sweep in range(24):
        order = range(len(ranks)) if sweep % 2 == 0 else range(len(ranks) - 1, -1, -1)
        for r in order:
            rank = ranks[r]
            wanted = []
            for node in rank:
                seen = [n.x for n in near.get(node, [])]
                wanted.append(sum(seen) / len(seen) if seen else node.x)
            gaps = [a.width / 2 + a.extra + _SEP + b.width / 2 for a, b in itertools.pairwise(rank)]
            for node, x in zip(rank, _isotonic(wanted, gaps), strict=True):
                node.x = x
    left = min(node.x - node.width / 2 for rank in ranks for node in rank)
    y = _MARGIN
    for rank in ranks:
        height = max([node.height for node in rank] + [_LINE_HEIGHT])
        for node in rank:
            node.x += _MARGIN - left
            node.y = y + height / 2
        y += height + _RANK_GAP


def _box_height(node: _Node) -> float:
    """The height of what is drawn (a state's self-loop labels may make its node taller)."""
    return _STATE_FONT + 2 * _PAD_Y if node.kind == "state" else node.height


def _edge_path(edge: _Edge, start: tuple[float, float], end: tuple[float, float]) -> str:
    """A smooth path through the edge's placeholders, vertical where it meets each node."""
    points = [start]
    for via in edge.path[1:-1]:
        down = edge.path[-1].rank > edge.path[0].rank
        half = via.height / 2 if down else -via.height / 2
        points += [(via.x, via.y - half), (via.x, via.y + half)]
    points.append(end)
    d = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        if x1 == x2:
            d.append(f"L{x2:.1f},{y2:.1f}")
        else:
            mid = (y2 - y1) / 2
            d.append(f"C{x1:.1f},{y1 + mid:.1f} {x2:.1f},{y2 - mid:.1f} {x2:.1f},{y2:.1f}")
    return " ".join(d)


def _ports(edges: Sequence[_Edge]) -> dict[tuple[int, int], tuple[float, float]]:
    """Where each edge (by number) leaves (0) and enters (1) its states.

    Edges meeting one side of a state are spread along it in the order of where they go.
    """
    sides: dict[tuple[_Node, int], list[tuple[float, int, int]]] = {}
    for number, edge in enumerate(edges):
        for which, node, nxt in (
            (0, edge.path[0], edge.path[1]),
            (1, edge.path[-1], edge.path[-2]),
        ):
            side = 1 if nxt.rank > node.rank else -1  # bottom or top
            sides.setdefault((node, side), []).append((nxt.x, number, which))
    ports = {}
    for (node, side), meeting in sides.items():
        y = node.y + side * _box_height(node) / 2
        spread = node.width * 0.6 if node.kind == "state" and len(meeting) > 1 else 0.0
        for i, (_, number, which) in enumerate(sorted(meeting)):
            offset = spread * (i / (len(meeting) - 1) - 0.5) if spread else 0.0
            ports[(number, which)] = (node.x + offset, y)
    return ports


def _style(ident: str) -> str:
    fg = "var(--color-foreground-primary, #1f2328)"
    line = "var(--color-foreground-secondary, #5a5c63)"
    return (
        f"#{ident} text{{font-family:var(--font-stack--monospace, ui-monospace, Menlo, Consolas,"
        f" monospace);fill:{fg};text-anchor:middle;dominant-baseline:central}}"
        f"#{ident} .state rect{{fill:var(--color-background-secondary, #f6f8fa);stroke:{line};"
        f"stroke-width:1.2}}"
        f"#{ident} .state text{{font-size:{_STATE_FONT}px;font-weight:600}}"
        f"#{ident} .label rect{{fill:var(--color-background-primary, #fff)}}"
        f"#{ident} .label text,#{ident} .loop text{{font-size:{_LABEL_FONT}px}}"
        f"#{ident} .loop text{{text-anchor:start}}"
        f"#{ident} .edge{{fill:none;stroke:{line};stroke-width:1.2}}"
        f"#{ident} .arrow,#{ident} .start,#{ident} .end .dot{{fill:{fg};stroke:none}}"
        f"#{ident} .end .ring{{fill:none;stroke:{fg};stroke-width:1.4}}"
    )


def _lines(texts: Sequence[str], x: float, y: float) -> Iterable[str]:
    top = y - (len(texts) - 1) * _LINE_HEIGHT / 2
    for i, text in enumerate(texts):
        yield f'<text x="{x:.1f}" y="{top + i * _LINE_HEIGHT:.1f}">{escape(text)}</text>'


def render_svg(transitions: Sequence[Transition], *, ident: str, title: str) -> str:
    """An ``<svg>`` element drawing ``transitions``; ``ident`` must be unique in its page.

    ``title`` is the picture's accessible name; its description lists every transition.
    """
    ranks, edges, states = _layout(transitions)
    ports = _ports(edges)
    width = max(n.x + n.width / 2 + n.extra for rank in ranks for n in rank) + _MARGIN
    height = max(n.y + n.height / 2 for rank in ranks for n in rank) + _MARGIN
    description = "; ".join(f"{t.source} to {t.target}: {t.label}".strip(": ") for t in transitions)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{ident}" class="state-diagram" '
        f'role="img" aria-labelledby="{ident}-title {ident}-desc" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
        f"<style>{_style(ident)}</style>",
        f'<defs><marker id="{ident}-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto">'
        '<path class="arrow" d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    for number, edge in enumerate(edges):
        d = _edge_path(edge, ports[(number, 0)], ports[(number, 1)])
        out.append(f'<path class="edge" d="{d}" marker-end="url(#{ident}-arrow)"/>')
    for node in (n for rank in ranks for n in rank):
        if node.kind == "start":
            out.append(f'<circle class="start" cx="{node.x:.1f}" cy="{node.y:.1f}" r="{_RADIUS}"/>')
        elif node.kind == "end":
            out.append(
                f'<g class="end"><circle class="ring" cx="{node.x:.1f}" cy="{node.y:.1f}" '
                f'r="{_RADIUS}"/><circle class="dot" cx="{node.x:.1f}" cy="{node.y:.1f}" '
                f'r="{_RADIUS - 3}"/></g>'
            )
        elif node.kind == "label":
            text = "".join(_lines(node.lines, node.x, node.y))
            out.append(
                f'<g class="label"><rect x="{node.x - node.width / 2:.1f}" '
                f'y="{node.y - node.height / 2:.1f}" width="{node.width:.1f}" '
                f'height="{node.height:.1f}" rx="3"/>{text}</g>'
            )
    for node in states:
        box_height = _box_height(node)
        out.append(
            f'<g class="state"><rect x="{node.x - node.width / 2:.1f}" '
            f'y="{node.y - box_height / 2:.1f}" width="{node.width:.1f}" '
            f'height="{box_height:.1f}" rx="8"/>{"".join(_lines(node.lines, node.x, node.y))}</g>'
        )
        if node.loops:
            right, reach = node.x + node.width / 2, node.x + node.width / 2 + _LOOP
            top, bottom = node.y - box_height / 4, node.y + box_height / 4
            out.append(
                f'<g class="loop"><path class="edge" d="M{right:.1f},{top:.1f} '
                f"C{reach:.1f},{top - 14:.1f} {reach:.1f},{bottom + 14:.1f} {right:.1f},"
                f'{bottom:.1f}" marker-end="url(#{ident}-arrow)"/>'
            )
            for i, text in enumerate(node.loops):
                y = node.y + (i - (len(node.loops) - 1) / 2) * _LINE_HEIGHT
                out.append(f'<text x="{reach + 8:.1f}" y="{y:.1f}">{escape(text)}</text>')
            out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
