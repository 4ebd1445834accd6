"""The generic transition machinery the onboarding aggregates run on.

A `StateMachine` is a declarative table: which commands exist and who may run them (by `Role`),
and which edges ``(source states, command) -> target`` connect the states of one status enum.
It is checked when it is defined (unknown states, duplicate edges, commands without an edge,
states unreachable from the initial one raise `DefinitionError` at import time), answers
"what may this actor do now?" and draws itself as a Mermaid ``stateDiagram-v2``.

`run` is the one way an aggregate changes: permission, state, guard (problems, not exceptions),
then the effect, which returns field changes and events. The result is a new aggregate with
``version + 1``; the input is never touched. Nothing here reads a clock or a random source.
"""

from __future__ import annotations

import enum
import functools
import keyword
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import attrs

from ..errors import (
    DefinitionError,
    PermissionDeniedError,
    RuleViolationError,
    TransitionNotAllowedError,
    ValidationError,
)
from .actors import Actor, Role
from .eligibility import Problem
from .events import Event
from .values import require_aware

__all__ = [
    "Aggregate",
    "Command",
    "EventRecorder",
    "StateMachine",
    "run",
]

S = TypeVar("S", bound=enum.Enum)
A = TypeVar("A", bound="Aggregate")
A_contra = TypeVar("A_contra", contravariant=True)
E = TypeVar("E", bound=Event)


class Aggregate(Protocol):
    """What `run` needs of an aggregate: an id, a version, a status and an owner."""

    @property
    def id(self) -> str: ...  # noqa: D102

    @property
    def version(self) -> int: ...  # noqa: D102

    @property
    def status(self) -> Any: ...  # noqa: D102

    @property
    def owner_id(self) -> str: ...  # noqa: D102


class Command(Protocol[A_contra]):
    """A request to change one aggregate: a name, a guard and an effect."""

    @property
    def name(self) -> str:
        """The command's name in the transition table."""
        ...

    def guard(self, aggregate: A_contra, actor: Actor, now: datetime, /) -> Sequence[Problem]:
        """Problems that refuse the command now (empty when it may go ahead)."""
        ...

    def effect(self, aggregate: A_contra, events: EventRecorder, /) -> Mapping[str, Any]:
        """The field changes of the new aggregate; record events on ``events``."""
        ...


@attrs.frozen
class _Edge(Generic[S]):
    sources: frozenset[S]
    command: str
    target: S


class StateMachine(Generic[S]):
    """A checked transition table over one status enum.

    Args:
        name: the aggregate's name, for diagrams and messages.
        states: the status enum.
        initial: the state a new aggregate starts in.
        commands: every command and the roles allowed to run it.
        edges: ``(source or sources, command, target)`` triples.
        creation: the command that creates an aggregate in ``initial`` (it has no edge).

    Raises:
        DefinitionError: the table is malformed (see the module docstring).
    """

    def __init__(
        self,
        name: str,
        states: type[S],
        initial: S,
        commands: Mapping[str, frozenset[Role]],
        edges: Iterable[tuple[S | Iterable[S], str, S]],
        creation: str,
    ) -> None:
        self.name = name
        self.creation = creation
        self.states = states
        self.initial = initial
        self.commands = dict(commands)
        self._edges: list[_Edge[S]] = []
        self._targets: dict[tuple[S, str], S] = {}
        for source, command, target in edges:
            sources = frozenset([source] if isinstance(source, enum.Enum) else source)
            self._add(_Edge(sources, command, target))
        self._allowed: dict[S, tuple[str, ...]] = {
            state: tuple(c for c in self.commands if (state, c) in self._targets)
            for state in states
        }
        self._validate()
        # What `check` needs of an edge in one look-up: its target and who may take it.
        self._edges_from: dict[tuple[S, str], tuple[S, frozenset[Role]]] = {
            key: (target, self.commands[key[1]]) for key, target in self._targets.items()
        }

    def _add(self, edge: _Edge[S]) -> None:
        for state in (*edge.sources, edge.target):
            if not isinstance(state, self.states):
                raise DefinitionError(f"{self.name}: {state!r} is not a {self.states.__name__}")
        if edge.command not in self.commands:
            raise DefinitionError(f"{self.name}: edge for undeclared command {edge.command!r}")
        for source in edge.sources:
            if (source, edge.command) in self._targets:
                raise DefinitionError(
                    f"{self.name}: duplicate edge {source.name} --{edge.command}-->"
                )
            self._targets[(source, edge.command)] = edge.target
        self._edges.append(edge)

    def _validate(self) -> None:
        if not isinstance(self.initial, self.states):
            raise DefinitionError(f"{self.name}: initial state {self.initial!r} is unknown")
        used = {command for _, command in self._targets}
        if self.creation not in self.commands or self.creation in used:
            raise DefinitionError(f"{self.name}: creation {self.creation!r} must be edge-less")
        for command, roles in self.commands.items():
            if command not in used and command != self.creation:
                raise DefinitionError(f"{self.name}: command {command!r} has no edge")
            if not roles or not all(isinstance(r, Role) for r in roles):
                raise DefinitionError(f"{self.name}: command {command!r} needs a set of Roles")
        reached, frontier = {self.initial}, [self.initial]
        while frontier:
            state = frontier.pop()
            for (source, _), target in self._targets.items():
                if source is state and target not in reached:
                    reached.add(target)
                    frontier.append(target)
        unreachable = [s.name for s in self.states if s not in reached]
        if unreachable:
            raise DefinitionError(f"{self.name}: unreachable states {unreachable}")

    def allowed_in(self, state: S) -> tuple[str, ...]:
        """The commands with an edge out of ``state``, whoever runs them."""
        return self._allowed[state]

    def allowed_commands(self, aggregate: Aggregate, actor: Actor) -> tuple[str, ...]:
        """The commands ``actor`` may run on ``aggregate`` in its current state.

        Guards are not evaluated: a command listed here may still be refused by a domain rule.
        """
        return tuple(
            command
            for command in self._allowed[aggregate.status]
            if actor.may(self.commands[command], aggregate.owner_id)
        )

    def check_creation(self, aggregate: Aggregate, actor: Actor) -> None:
        """Check that ``actor`` may create ``aggregate`` (the creation command's roles).

        Raises:
            PermissionDeniedError: ``actor`` has none of the creation command's roles.
        """
        self._permit(aggregate, self.creation, actor)

    def _permit(self, aggregate: Aggregate, command: str, actor: Actor) -> None:
        if not isinstance(actor, Actor):
            raise PermissionDeniedError(actor, command, "commands need an Actor")
        roles = self.commands.get(command)
        if roles is not None and not actor.may(roles, aggregate.owner_id):
            wanted = " or ".join(sorted(r.value for r in roles))
            raise PermissionDeniedError(actor, command, f"only the {wanted} may")

    def check(self, aggregate: Aggregate, command: str, actor: Actor) -> S:
        """The state ``command`` leads to, after checking the actor and the current state.

        Raises:
            PermissionDeniedError: ``actor`` has none of the command's roles.
            TransitionNotAllowedError: no edge leaves the current state for ``command``.
        """
        status = aggregate.status
        edge = self._edges_from.get((status, command))
        if (
            edge is None
            or not isinstance(actor, Actor)
            or not actor.may(edge[1], aggregate.owner_id)
        ):
            self._permit(aggregate, command, actor)  # the actor first: it raises if refused
            raise TransitionNotAllowedError(status, command, self._allowed[status])
        return edge[0]

    def to_mermaid(self) -> str:
        """The table as a Mermaid ``stateDiagram-v2`` (edges labelled with command and roles)."""
        creators = ", ".join(sorted(r.value for r in self.commands[self.creation]))
        lines = [
            "stateDiagram-v2",
            f"    [*] --> {self.initial.name}: {self.creation} ({creators})",
        ]
        for edge in self._edges:
            roles = ", ".join(sorted(r.value for r in self.commands[edge.command]))
            for source in sorted(edge.sources, key=lambda s: list(self.states).index(s)):
                lines.append(f"    {source.name} --> {edge.target.name}: {edge.command} ({roles})")
        for state in self.states:
            if not self._allowed[state]:
                lines.append(f"    {state.name} --> [*]")
        return "\n".join(lines) + "\n"


class EventRecorder:
    """Collects the events of one transition and stamps them with id, version, time and actor.

    Event ids are ``"<aggregate id>:<version>:<n>"``: stable, so a notifier that sees an event
    twice can tell.
    """

    __slots__ = ("_actor", "_aggregate_id", "_checked", "_now", "_version", "events")

    def __init__(self, aggregate_id: str, version: int, now: datetime, actor: Actor) -> None:
        self._aggregate_id = aggregate_id
        self._version = version
        self._now = now
        self._actor = actor
        self._checked = False  # `run` sets it when the common fields are known to be valid
        self.events: list[Event] = []

    def record(self, event_type: type[E], **fields: Any) -> E:
        """Record an event of ``event_type`` with ``fields`` on top of the common ones."""
        event_id = f"{self._aggregate_id}:{self._version}:{len(self.events)}"
        # (mypy takes a class's __hash__ for its instances': a class is hashable)
        build = _event_builder(event_type) if self._checked else None  # type: ignore[arg-type]
        event: Event | None = None
        if build is not None:
            event = build(
                event_id, self._aggregate_id, self._version, self._now, self._actor, fields
            )
        if event is None:  # the constructor checks every field
            event = event_type(
                event_id=event_id,
                aggregate_id=self._aggregate_id,
                version=self._version,
                occurred_at=self._now,
                actor=self._actor,
                **fields,
            )
        self.events.append(event)
        return event  # type: ignore[return-value]  # built as event_type

    @property
    def now(self) -> datetime:
        """The time of the transition."""
        return self._now

    @property
    def actor(self) -> Actor:
        """Who made the transition."""
        return self._actor


_ENGINE_FIELDS = ("status", "version", "updated_at")
_COMMON_EVENT_FIELDS = frozenset({"event_id", "aggregate_id", "version", "occurred_at", "actor"})


def _slot_setters(cls: type[Any]) -> dict[str, Any]:
    """Each field's slot setter of a slotted attrs class, by name, in field order.

    Setting a slot through its descriptor is what attrs' own generated ``__init__`` does; the
    generated functions below use these to build instances without running ``__init__``.

    Raises:
        DefinitionError: ``cls`` is not a slotted attrs class, or a field name is not a Python
            identifier (the generated code names every field).
    """
    names = [field.name for field in attrs.fields(cls)]
    if not all(name.isidentifier() and not keyword.iskeyword(name) for name in names):
        raise DefinitionError(f"{cls.__name__} has a field that is not a Python identifier")
    slots: dict[str, Any] = {name: getattr(cls, name, None) for name in names}
    if "__dict__" in dir(cls) or not all(hasattr(slot, "__set__") for slot in slots.values()):
        raise DefinitionError(f"{cls.__name__} must be a slotted attrs class (attrs.frozen)")
    return {name: slot.__set__ for name, slot in slots.items()}


def _generate(name: str, lines: list[str], namespace: dict[str, Any], where: str) -> Any:
    source = "\n".join(lines)  # built from a class's own (checked) field names only
    exec(compile(source, where, "exec"), namespace)
    return namespace[name]


_Copier = Callable[[Any, Mapping[str, Any], Any, int, datetime], Any]


@functools.cache
def _copier(cls: type[Any], changed: tuple[str, ...]) -> _Copier:
    """Build, once per aggregate class and set of changed fields, a function that copies.

    ``copy(aggregate, changes, status, version, updated_at)`` makes a new instance without
    calling ``__init__``: the unchanged fields are already valid, the changed values (``changes``,
    whose keys are ``changed``) come from a command whose fields were validated when it was
    built, and the engine's three fields come from the engine, so an effect can never
    move the state or the version past the table. Re-running every validator (`attrs.evolve`)
    was two thirds of a transition's cost, and a generic loop over the fields half of what was
    left; the generated code sets each slot once, through its descriptor, the way attrs itself
    generates ``__init__``.

    Raises:
        DefinitionError: ``cls`` is not a slotted attrs class with the engine's fields, or an
            effect changes a field the class does not have or an engine field.
    """
    setters = _slot_setters(cls)
    missing = [name for name in _ENGINE_FIELDS if name not in setters]
    if missing:
        raise DefinitionError(f"{cls.__name__} has no {', '.join(missing)} field")
    for name in changed:
        if name not in setters or name in _ENGINE_FIELDS:
            raise DefinitionError(f"an effect may not change {cls.__name__}.{name}")
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = ["def copy(aggregate, changes, status, version, updated_at):", "    n = new(cls)"]
    for index, (name, setter) in enumerate(setters.items()):
        namespace[f"set{index}"] = setter
        if name in _ENGINE_FIELDS:
            value = name
        elif name in changed:
            value = f"changes[{name!r}]"
        else:
            value = f"aggregate.{name}"
        lines.append(f"    set{index}(n, {value})")
    lines.append("    return n")
    copy: _Copier = _generate("copy", lines, namespace, f"<generated copy {cls.__qualname__}>")
    return copy


_Builder = Callable[[str, str, int, datetime, Actor, dict[str, Any]], Event | None]


@functools.cache
def _event_builder(event_type: type[Any]) -> _Builder | None:
    """Build, once per event class, a constructor for the events `run` records.

    ``build(event_id, aggregate_id, version, occurred_at, actor, fields)`` is
    ``event_type(event_id=..., ..., **fields)`` without the validators of the five common
    fields: `run` has checked what they check (a text id, a version from 1, an aware ``now``,
    an `Actor`) before the effect runs, and running them again was a third of a transition's
    cost. The event's own fields are validated as ``__init__`` does (after every field is set,
    in field order). It returns ``None``, for ``__init__`` to build the event, when ``fields``
    are not the class's own or attrs' validators are disabled; there is no builder (``None``)
    for a class with a converter, an init hook or no slots.
    """
    attributes = attrs.fields(event_type)
    hooks = ("__attrs_pre_init__", "__attrs_post_init__")
    if any(a.converter for a in attributes) or any(hasattr(event_type, h) for h in hooks):
        return None
    try:
        setters = _slot_setters(event_type)
    except DefinitionError:
        return None
    namespace: dict[str, Any] = {
        "new": object.__new__,
        "cls": event_type,
        "names": frozenset(a.name for a in attributes if a.name not in _COMMON_EVENT_FIELDS),
        "disabled": attrs.validators.get_disabled,
    }
    lines = [
        "def build(event_id, aggregate_id, version, occurred_at, actor, fields):",
        "    if fields.keys() != names or disabled():",
        "        return None",
        "    n = new(cls)",
    ]
    for index, (name, setter) in enumerate(setters.items()):
        namespace[f"set{index}"] = setter
        value = name if name in _COMMON_EVENT_FIELDS else f"fields[{name!r}]"
        lines.append(f"    set{index}(n, {value})")
    for index, attribute in enumerate(attributes):
        if attribute.validator is not None and attribute.name not in _COMMON_EVENT_FIELDS:
            namespace[f"check{index}"] = attribute.validator
            namespace[f"field{index}"] = attribute
            lines.append(f"    check{index}(n, field{index}, n.{attribute.name})")
    lines.append("    return n")
    where = f"<generated build {event_type.__qualname__}>"
    build: _Builder = _generate("build", lines, namespace, where)
    return build


def run(
    machine: StateMachine[Any],
    aggregate: A,
    command: Command[A],
    actor: Actor,
    now: datetime,
    *,
    refuse: Callable[[str, Sequence[Problem]], Exception] = RuleViolationError,
) -> tuple[A, tuple[Event, ...]]:
    """Apply ``command`` to ``aggregate``: permission, state, guard, effect.

    Returns:
        The new aggregate (``version + 1``, status moved, ``updated_at = now``) and its events.

    Raises:
        InvalidDateTimeError: ``now`` is naive.
        ValidationError: ``command`` is not a command (no name, guard and effect).
        PermissionDeniedError: the actor may not run the command.
        TransitionNotAllowedError: the command is not allowed in the current state.
        RuleViolationError: a guard found problems (or what ``refuse`` builds from them).
    """
    if type(now) is not datetime or now.tzinfo is not UTC:  # the usual `now` needs no call
        now = require_aware("now", now)
    try:
        name, guard, effect = command.name, command.guard, command.effect
    except AttributeError:
        rule = f"must be a {machine.name} command, one of {sorted(machine.commands)}"
        raise ValidationError("command", command, rule) from None
    target = machine.check(aggregate, name, actor)
    problems = guard(aggregate, actor, now)
    if problems:
        raise refuse(name, problems)
    version = aggregate.version + 1
    # `now` is aware and `actor` an Actor (checked above): with a text id and a whole version
    # from 1, every common field of the events is one their validators accept.
    recorder = EventRecorder(aggregate.id, version, now, actor)
    recorder._checked = type(aggregate.id) is str and type(version) is int and version > 1
    changes = effect(aggregate, recorder)
    new: A = _copier(type(aggregate), tuple(changes))(aggregate, changes, target, version, now)
    return new, tuple(recorder.events)
