"""Draw the state machines' Mermaid diagrams as pictures when the docs build, offline.

A page keeps each diagram as the text `StateMachine.to_mermaid` writes, in a ```mermaid fence
(readable as text, and drawn by any Mermaid viewer). When the site builds, each such
``stateDiagram-v2`` fence becomes an SVG picture laid out by `state_svg` (no browser, no
network, no Graphviz), inlined in the HTML; other builders keep the text.

Two checks, warnings (errors under ``-W``):

- a state diagram that is no machine's current table is stale: regenerate it;
- a state machine that no page draws is missing: add its diagram (to docs/concepts.md).

The machines are found, not listed: every `StateMachine` that a public module of the package
(``public_api_package``) holds, at module level or as a class's ``machine``.
"""

from __future__ import annotations

import functools
import inspect
from importlib import import_module
from typing import Any

from docutils import nodes
from public_api import public_modules
from sphinx import addnodes
from sphinx.util import logging
from state_svg import parse_mermaid, render_svg

logger = logging.getLogger(__name__)


@functools.cache
def machines(package_name: str) -> tuple[Any, ...]:
    """Every state machine the package's public modules hold, in the order first found."""
    machine_type = import_module(package_name).StateMachine
    found: dict[int, Any] = {}
    for module in public_modules(package_name):
        for value in vars(module).values():
            for candidate in (
                value,
                getattr(value, "machine", None) if inspect.isclass(value) else None,
            ):
                if isinstance(candidate, machine_type):
                    found.setdefault(id(candidate), candidate)
    return tuple(found.values())


def _drawn(env: Any) -> dict[str, set[str]]:
    """The machines drawn on each page (docname -> machine names), kept in the environment."""
    if not hasattr(env, "state_diagrams_drawn"):
        env.state_diagrams_drawn = {}
    drawn: dict[str, set[str]] = env.state_diagrams_drawn
    return drawn


def _draw_state_diagrams(app: Any, doctree: nodes.document) -> None:
    """Replace each ``stateDiagram-v2`` fence of the page just read by its picture."""
    env = app.env
    tables = {m.to_mermaid().strip(): m for m in machines(app.config.public_api_package)}
    for block in list(doctree.findall(nodes.literal_block)):
        text = block.astext().strip()
        if block.get("language") != "mermaid" or not text.startswith("stateDiagram-v2"):
            continue
        machine = tables.get(text)
        if machine is None:
            logger.warning(
                "this state diagram is no state machine's current table: regenerate it "
                "(`aliexpress-onboarding diagram NAME`, or StateMachine.to_mermaid())",
                location=block,
                type="state_diagrams",
                subtype="stale",
            )
            continue
        ident = f"state-diagram-{machine.name.lower()}-{env.new_serialno('state-diagram')}"
        svg = render_svg(parse_mermaid(text), ident=ident, title=f"{machine.name} states")
        fallback = addnodes.only(expr="not html")
        fallback += block.deepcopy()
        picture = nodes.raw("", f'<div class="state-diagram">\n{svg}\n</div>\n', format="html")
        block.replace_self([picture, fallback])
        env.note_dependency(inspect.getfile(machine.states))
        _drawn(env).setdefault(env.docname, set()).add(machine.name)


def _check_every_machine_drawn(app: Any, env: Any) -> None:
    """Warn for each state machine that no page draws."""
    drawn = set().union(*_drawn(env).values())
    for machine in machines(app.config.public_api_package):
        if machine.name not in drawn:
            logger.warning(
                "the %s state machine is drawn on no page: add its to_mermaid() text in a "
                "```mermaid fence to docs/concepts.md",
                machine.name,
                type="state_diagrams",
                subtype="missing",
            )


def _purge(app: Any, env: Any, docname: str) -> None:
    _drawn(env).pop(docname, None)


def _merge(app: Any, env: Any, docnames: set[str], other: Any) -> None:
    for docname in docnames:
        if docname in _drawn(other):
            _drawn(env)[docname] = _drawn(other)[docname]


def setup(app: Any) -> dict[str, Any]:
    """Draw the diagrams as each page is read; check them all once every page is read."""
    app.setup_extension("public_api")
    app.connect("doctree-read", _draw_state_diagrams)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-check-consistency", _check_every_machine_drawn)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
