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
import importlib
import keyword
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Generic, Protocol, TypeVar

import attrs

from ..errors import (
    DefinitionError,
    PermissionDeniedError,
    RuleViolationError,
    TransitionNotAllowedError,
    ValidationError,
)
from .actors import Actor, ActorKind, Role, kinds_holding
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


_Step = tuple[S, frozenset[Role], frozenset[ActorKind], ActorKind | None]
"""An edge out of one state: its target, its command's roles and `kinds_holding` them."""


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
        # What `check` needs of an edge in one look-up: its target and who may take it, as the
        # roles (for `Actor.may`) and as what `run` checks without a call (`kinds_holding`).
        self._edges_from: dict[tuple[S, str], _Step[S]] = {
            key: (target, self.commands[key[1]], *kinds_holding(self.commands[key[1]]))
            for key, target in self._targets.items()
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
        self.events: list[Event] = []  # (`run` sets these slots itself: keep it in step)

    def record(self, event_type: type[E], **fields: Any) -> E:
        """Record an event of ``event_type`` with ``fields`` on top of the common ones."""
        if self._checked:
            try:  # a plain dict: cheaper than a functools.cache
                build = _BUILDERS[event_type]
            except KeyError:
                build = _BUILDERS[event_type] = _event_builder(event_type)
            if build is not None:
                built = build(self, fields)  # numbered, checked and kept as below
                if built is not None:
                    return built  # type: ignore[return-value]  # built as event_type
        events = self.events
        event = event_type(  # the constructor checks every field
            event_id=f"{self._aggregate_id}:{self._version}:{len(events)}",
            aggregate_id=self._aggregate_id,
            version=self._version,
            occurred_at=self._now,
            actor=self._actor,
            **fields,
        )
        events.append(event)
        return event

    @property
    def now(self) -> datetime:
        """The time of the transition."""
        return self._now

    @property
    def actor(self) -> Actor:
        """Who made the transition."""
        return self._actor


_ENGINE_FIELDS = ("status", "version", "updated_at")


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


def _keys_differ(mapping: str, names: Iterable[str]) -> str:
    """The test that ``mapping`` (a dict) has keys other than ``names``, as generated code.

    It says what ``mapping.keys() != set(names)`` says, as a length and a look-up per name:
    without the keys view and the set comparison, half as costly for one or two names.
    """
    ordered = sorted(names)
    tests = [f"len({mapping}) != {len(ordered)}", *(f"{n!r} not in {mapping}" for n in ordered)]
    return " or ".join(tests)


def _generate(name: str, lines: list[str], namespace: dict[str, Any], where: str) -> Any:
    source = "\n".join(lines)  # built from a class's own (checked) field names only
    exec(compile(source, where, "exec"), namespace)
    return namespace[name]


_Copier = Callable[[Any, Mapping[str, Any], Any, int, datetime], Any]


@functools.cache
def _copier(cls: type[Any], changed: tuple[str, ...]) -> tuple[_Copier, _Copier]:
    """Build, once per aggregate class and set of changed fields, two functions that copy.

    ``copy(aggregate, changes, status, version, updated_at)`` makes a new instance without
    calling ``__init__``: the unchanged fields are already valid, the changed values (``changes``,
    whose keys are ``changed``) come from a command whose fields were validated when it was
    built, and the engine's three fields come from the engine, so an effect can never
    move the state or the version past the table. Re-running every validator (`attrs.evolve`)
    was two thirds of a transition's cost.

    The copy is built as an instance of a subclass of ``cls`` that adds no slot and lets them be
    set (``object.__setattr__``), then becomes a ``cls`` (``__class__`` assignment, which Python
    allows only between classes of one memory layout, checked here once). Setting a slot so is
    one ``STORE_ATTR``; through the slot's descriptor (``set(n, value)``), the way attrs' own
    ``__init__`` does, it was a call each, and these calls were a quarter of a transition. The
    subclass never escapes: nothing but the generated code sees an instance while it is one.
    (Events are not built so: `serialization` finds the event classes by their subclasses.)

    The second function, ``copy_if``, is ``copy`` for `run`'s cache by command class: it
    returns ``None`` unless ``aggregate`` is a ``cls`` and ``changes`` a dict with the keys
    ``changed``, the case this pair was built (and its changes checked) for.

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
    # (mypy takes a class's __hash__ for its instances': a class is hashable)
    unfrozen = _unfrozen(cls)  # type: ignore[arg-type]
    if any(name in vars(unfrozen) for name in setters):
        raise DefinitionError(f"{cls.__name__} has a field named like a class attribute")
    namespace: dict[str, Any] = {"cls": cls, "unfrozen": unfrozen}
    body = ["    n = unfrozen()"]
    for name in setters:
        if name in _ENGINE_FIELDS:
            value = name
        elif name in changed:
            value = f"changes[{name!r}]"
        else:
            value = f"aggregate.{name}"
        body.append(f"    n.{name} = {value}")
    body += ["    n.__class__ = cls", "    return n"]
    signature = "(aggregate, changes, status, version, updated_at):"
    lines = [
        f"def copy{signature}",
        *body,
        f"def copy_if{signature}",
        "    if type(aggregate) is not cls or type(changes) is not dict:",
        "        return None",
        f"    if {_keys_differ('changes', changed)}:",
        "        return None",
        *body,
    ]
    copy: _Copier = _generate("copy", lines, namespace, f"<generated copy {cls.__qualname__}>")
    return copy, namespace["copy_if"]


@functools.cache  # one per class, whatever its effects change
def _unfrozen(cls: type[Any]) -> type[Any]:
    """A subclass of the slotted ``cls`` whose slots may be set; its instances may become ``cls``.

    Raises:
        DefinitionError: an instance of the subclass cannot become a ``cls``.
    """
    unfrozen: type[Any] = type(  # (of the metaclass of ``cls``, if it has one)
        f"_unfrozen_{cls.__name__}",  # never ``cls``'s name: `serialization` names event types
        (cls,),
        {
            "__slots__": (),
            SCRATCH: True,
            # `unfrozen()` makes a blank instance, as `object.__new__(cls)` did, without attrs'
            # `__init__`, and cheaper than `object.__new__(unfrozen)` (one C call, no look-up).
            "__new__": object.__new__,
            "__init__": object.__init__,
            "__module__": __name__,
            "__qualname__": f"_unfrozen({cls.__qualname__})",
            "__doc__": f"A {cls.__qualname__} being built by `run`; never seen outside it.",
            # Both, for Python to call neither but set the slot directly (one C function).
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
        },
    )
    try:
        object.__new__(unfrozen).__class__ = cls
    except TypeError as error:
        raise DefinitionError(f"{cls.__name__} cannot be copied by `run`: {error}") from None
    return unfrozen


SCRATCH: Final = "_engine_scratch_"
"""Set (to ``True``) in the own namespace of each `_unfrozen` class: whoever walks a class's
subclasses (`serialization` finds the event types so) leaves these out."""


_COPIES: dict[type[Any], _Copier] = {}
"""The ``copy_if`` `run` last used after each command class's effect.

One effect nearly always changes the same fields, so the copier is found by a look-up on the
command's class and one comparison of the keys, not by hashing a tuple of them each time.
"""

_ATTRS_CONFIG: Any = importlib.import_module("attr._config")


def _validators_disabled(namespace: dict[str, Any]) -> str:
    """The test that attrs' validators are disabled, as generated code (names in ``namespace``).

    It is the test attrs' own generated ``__init__`` makes, ``_config._run_validators is True``
    (to run them), read as it reads it: `attrs.validators.get_disabled` asks the same through
    two calls, a tenth of what is left of recording an event. Should attrs keep the switch
    elsewhere one day, the test is that call: were the old name left behind, unchanging, the
    builder would only validate where the constructor might not, never the reverse.
    """
    if type(getattr(_ATTRS_CONFIG, "_run_validators", None)) is bool:
        namespace["config"] = _ATTRS_CONFIG
        return "config._run_validators is not True"
    namespace["disabled"] = attrs.validators.get_disabled
    return "disabled()"


_Builder = Callable[[EventRecorder, dict[str, Any]], Event | None]

_FROM_RECORDER = {
    "event_id": (  # (most transitions record one event: its number, 0, needs no formatting)
        'f"{recorder._aggregate_id}:{recorder._version}:0" if not events else '
        'f"{recorder._aggregate_id}:{recorder._version}:{len(events)}"'
    ),
    "aggregate_id": "recorder._aggregate_id",
    "version": "recorder._version",
    "occurred_at": "recorder._now",
    "actor": "recorder._actor",
}
"""The common fields of an event, as the generated builders read them off the recorder (the
event id as `EventRecorder.record` numbers it)."""


def _event_builder(event_type: type[Any]) -> _Builder | None:
    """Build a recorder of the events `run` records (once per event class: `_BUILDERS`).

    ``build(recorder, fields)`` is ``recorder.record(event_type, **fields)`` without the
    validators of the five common fields: `run` has checked what they check (a text id, a
    version from 1, an aware ``now``, an `Actor`) before the effect runs, and running them again
    was a third of a transition's cost. The event's own fields are validated as ``__init__``
    does (after every field is set, in field order); only a valid event is kept. It returns
    ``None``, for ``record`` to call the constructor, when ``fields`` are not the class's own
    or attrs' validators are disabled; there is no builder (``None``) for a class with a
    converter, an init hook or no slots.
    """
    attributes = attrs.fields(event_type)
    hooks = ("__attrs_pre_init__", "__attrs_post_init__")
    if any(a.converter for a in attributes) or any(hasattr(event_type, h) for h in hooks):
        return None
    try:
        setters = _slot_setters(event_type)
        unfrozen = _unfrozen(event_type)  # type: ignore[arg-type]  # (a class is hashable)
    except DefinitionError:
        return None
    if any(name in vars(unfrozen) for name in setters):
        return None
    # Built as `_copier` builds a copy: slots set directly on an `_unfrozen` instance, which
    # then becomes an `event_type` before its validators see it.
    namespace: dict[str, Any] = {"cls": event_type, "unfrozen": unfrozen}
    own = [a.name for a in attributes if a.name not in _FROM_RECORDER]
    lines = [
        "def build(recorder, fields):",
        f"    if {_keys_differ('fields', own)} or {_validators_disabled(namespace)}:",
        "        return None",
        "    events = recorder.events",
        "    n = unfrozen()",
    ]
    for name in setters:
        lines.append(f"    n.{name} = {_FROM_RECORDER.get(name, f'fields[{name!r}]')}")
    lines.append("    n.__class__ = cls")
    for index, attribute in enumerate(attributes):
        if attribute.validator is not None and attribute.name not in _FROM_RECORDER:
            namespace[f"check{index}"] = attribute.validator
            namespace[f"field{index}"] = attribute
            lines.append(f"    check{index}(n, field{index}, n.{attribute.name})")
    lines += ["    events.append(n)", "    return n"]
    where = f"<generated build {event_type.__qualname__}>"
    build: _Builder = _generate("build", lines, namespace, where)
    return build


_new = object.__new__  # (`run` makes its recorder with it)

_BUILDERS: dict[type[Any], _Builder | None] = {}
"""`_event_builder` of each event class recorded so far (``None``: the constructor builds it)."""


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
    # `StateMachine.check` without its calls, for the usual case only: an edge, a plain `Actor`
    # and a role it holds (the very test of `Actor.may`). Anything else, `check` decides.
    step = machine._edges_from.get((aggregate.status, name))
    if (
        step is not None
        and type(actor) is Actor
        and (actor.kind in step[2] or (actor.kind is step[3] and actor.id == aggregate.owner_id))
    ):
        target = step[0]
    else:
        target = machine.check(aggregate, name, actor)
    problems = guard(aggregate, actor, now)
    if problems:
        raise refuse(name, problems)
    version = aggregate.version + 1
    # `EventRecorder(aggregate.id, version, now, actor)`, without calling its `__init__` (the
    # interpreter makes a Python `__init__` a call of its own, a sixth of building the recorder).
    recorder = _new(EventRecorder)
    recorder._aggregate_id = aggregate_id = aggregate.id
    recorder._version = version
    recorder._now = now
    recorder._actor = actor
    recorder.events = []
    # `now` is aware and `actor` an Actor (checked above): with a text id and a whole version
    # from 1, every common field of the events is one their validators accept.
    recorder._checked = type(aggregate_id) is str and type(version) is int and version > 1
    changes = effect(aggregate, recorder)
    copy = _COPIES.get(type(command))
    new: A | None = None if copy is None else copy(aggregate, changes, target, version, now)
    if new is None:  # a first run, or other changes: the copier checks them
        copy, _COPIES[type(command)] = _copier(type(aggregate), tuple(changes))
        new = copy(aggregate, changes, target, version, now)
    return new, tuple(recorder.events)
