"""Explaining a missed target: what dominates its workload.

Each explanation times the workload's pieces directly (`harness.breakdown`, no profiler in the
way) and adds a pyinstrument profile listing the heaviest functions. Some pieces are private
functions of the library (``_json.too_deep``); they are looked up defensively, so a
renamed one drops out of the breakdown instead of failing the run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import attrs
import harness
import samples
import workflows
from harness import Breakdown, Case, Profile, ProfileRow, Settings
from report import Explanation

from aliexpress_onboarding import _json
from aliexpress_onboarding.domain import machine as machine_module
from aliexpress_onboarding.domain.actors import Actor
from aliexpress_onboarding.domain.application import Approve, DeveloperApplication
from aliexpress_onboarding.domain.machine import EventRecorder, run
from aliexpress_onboarding.domain.values import EmailAddress, require_aware
from aliexpress_onboarding.serialization import from_dict, from_json, to_dict, to_json
from aliexpress_onboarding.service import OnboardingService

__all__ = ["engine", "fresh_interpreter", "imports", "round_trip", "service"]

# Where the time of a workload goes, for the profiles: (label, file name ending, function).
ENGINE_STEPS = (
    ("run(): one whole transition", "domain/machine.py", "run"),
    ("require_aware(now)", "domain/values.py", "require_aware"),
    ("StateMachine.check: actor permission + table look-up", "domain/machine.py", "check"),
    ("command.guard (is_overdue on escalate)", "workflows.py", "guard"),
    ("EventRecorder(...)", "domain/machine.py", "__init__"),
    ("command.effect", "workflows.py", "effect"),
    ("the new aggregate: the generated copy", "generated copy Ticket>", "copy"),
    ("the new aggregate: attrs.evolve (older engine)", "attr/_make.py", "evolve"),
    ("Ticket.__init__ + validators (inside attrs.evolve)", "workflows.Ticket>", "__init__"),
)
ROUND_TRIP_STEPS = (
    ("to_json", "serialization.py", "to_json"),
    ("to_dict: cattrs unstructure", "serialization.py", "to_dict"),
    ("json.dumps", "json/__init__.py", "dumps"),
    ("from_json", "serialization.py", "from_json"),
    ("too_deep: nesting pre-scan (regexes over the text)", "_json.py", "too_deep"),
    ("JSONDecoder.decode (a hook per object refuses duplicate keys)", "json/decoder.py", "decode"),
    ("from_dict: envelope checks + cattrs structure", "serialization.py", "from_dict"),
    ("email-validator (EmailAddress)", "email_validator/validate_email.py", "validate_email"),
)
SERVICE_STEPS = (
    ("OnboardingService.approve: the whole command", "service.py", "approve"),
    ("Repository.get: SELECT + from_json", "adapters/sqlite.py", "get"),
    ("DeveloperApplication.handle: the engine", "domain/application.py", "handle"),
    ("Repository.save: to_json + write transaction", "adapters/sqlite.py", "save"),
    ("OnboardingService.dispatch_pending", "service.py", "dispatch_pending"),
    ("Repository.pending_events: SELECT + from_json", "adapters/sqlite.py", "pending_events"),
    ("Repository.mark_delivered: a 2nd write transaction", "adapters/sqlite.py", "mark_delivered"),
    ("from_json (every call)", "serialization.py", "from_json"),
    ("to_json (every call)", "serialization.py", "to_json"),
    (
        "email-validator (EmailAddress, every load)",
        "email_validator/validate_email.py",
        "validate_email",
    ),
    ("sqlite3 Connection.execute (SQLite itself)", "", "Connection.execute"),
)


def engine(case: Case, settings: Settings) -> list[Explanation]:
    """Our engine's transition, piece by piece (one ``approve`` from under review)."""
    machine, reviewer, now = workflows.TICKET_MACHINE, workflows.REVIEWER, workflows.NOW
    ticket = attrs.evolve(
        workflows.Ticket(
            id="t-1",
            owner_id="seller-1",
            submitted_at=workflows.SUBMITTED_AT,
            updated_at=workflows.SUBMITTED_AT,
        ),
        status=workflows.TicketStatus.UNDER_REVIEW,
    )
    approve = workflows.APPROVE
    roles = machine.commands["approve"]
    approved = workflows.TicketStatus.APPROVED

    def new_ticket() -> object:
        return workflows.Ticket(
            id=ticket.id,
            owner_id=ticket.owner_id,
            submitted_at=ticket.submitted_at,
            updated_at=now,
            status=approved,
            version=2,
        )

    changes: dict[str, Any] = {"status": approved, "version": 2, "updated_at": now}
    parts: list[tuple[str, Callable[[], object]]] = [
        ("require_aware(now)", lambda: require_aware("now", now)),
        (
            "machine.check: permission + state table",
            lambda: machine.check(ticket, "approve", reviewer),
        ),
        ("… of which Actor.may(roles, owner)", lambda: reviewer.may(roles, ticket.owner_id)),
        ("command.guard", lambda: approve.guard(ticket, reviewer, now)),
        ("EventRecorder(...)", lambda: EventRecorder(ticket.id, 2, now, reviewer)),
    ]
    copier = getattr(machine_module, "_copier", None)  # the library's own copy, where it has one
    if callable(copier):
        copy = copier(type(ticket))
        parts.append(
            ("the new aggregate: the generated copy", lambda: copy(ticket, {}, approved, 2, now))
        )
    parts += [
        (
            "for comparison: attrs.evolve(status, version, updated_at)",
            lambda: attrs.evolve(ticket, **changes),
        ),
        ("for comparison: Ticket(...), all fields, its validator", new_ticket),
    ]
    return [
        harness.breakdown(
            "Our engine: one transition (approve), piece by piece",
            lambda: run(machine, ticket, approve, reviewer, now),
            parts,
            settings,
            "Each piece called alone in a loop; `run` is the sum of these plus its own glue.",
        ),
        harness.profile(
            "our engine over the 5-step path", case, settings.profile_seconds, steps=ENGINE_STEPS
        ),
    ]


def round_trip(name: str, value: Any, case: Case, settings: Settings) -> list[Explanation]:
    """The library's round trip of ``value``, piece by piece."""
    kind = type(value)
    text = to_json(value, include_secrets=True)
    document = to_dict(value, include_secrets=True)
    parts: list[tuple[str, Callable[[], object]]] = [
        ("to_dict (cattrs unstructure)", lambda: to_dict(value, include_secrets=True)),
        (
            "json.dumps of that dict",
            lambda: json.dumps(document, separators=(",", ":"), ensure_ascii=False),
        ),
        ("json.loads of the text", lambda: json.loads(text)),
    ]
    depth = getattr(_json, "too_deep", None)
    if callable(depth):
        parts.append(("_json.too_deep (nesting pre-scan, regexes)", lambda: depth(text)))
    parts.append(
        ("from_dict (envelope checks + cattrs structure)", lambda: from_dict(document, kind))
    )
    email = getattr(getattr(value, "applicant", None), "email", None)
    if email is not None:
        address = str(email)
        label = "… of which EmailAddress(...) (email-validator; in both codecs)"
        parts.append((label, lambda: EmailAddress(address)))
    hand_encode, hand_decode = (
        (samples.app_to_text, samples.app_from_text)
        if name == "App"
        else (samples.application_to_text, samples.application_from_text)
    )
    parts += [
        ("reference: hand-written encode", lambda: hand_encode(value)),
        ("reference: hand-written decode (json.loads + constructors)", lambda: hand_decode(text)),
    ]
    return [
        harness.breakdown(
            f"Round trip of {name}, piece by piece",
            lambda: from_json(to_json(value, include_secrets=True), kind),
            parts,
            settings,
            "Whole = `from_json(to_json(x, include_secrets=True), type(x))`.",
        ),
        harness.profile(
            f"round trip of {name}", case, settings.profile_seconds, steps=ROUND_TRIP_STEPS
        ),
    ]


def service(
    title: str,
    svc: OnboardingService,
    template: DeveloperApplication,
    case: Case,
    settings: Settings,
) -> list[Explanation]:
    """``OnboardingService.approve`` replayed step by step, each step timed as it runs."""
    copies = samples.under_review_copies(template, "explain", settings.service_commands)
    for copy in copies:
        svc.repository.add(copy, [])
    reviewer = Actor.reviewer("rev-explain")
    stored = to_json(copies[0], include_secrets=True)
    seconds: dict[str, list[float]] = {
        "repository.get (SELECT + from_json)": [],
        "… of which from_json of the stored row (timed apart)": [],
        "application.handle (the engine)": [],
        "repository.save (to_json, UPDATE, unique keys, outbox INSERT)": [],
        "… of which to_json of the new state (timed apart)": [],
        "dispatch_pending (SELECT + from_json of events, notify, mark_delivered)": [],
    }
    whole = []
    clock = time.perf_counter
    for copy in copies:  # the steps of OnboardingService._handle_application and _changed
        t0 = clock()
        application = svc.repository.get(DeveloperApplication, copy.id)
        t1 = clock()
        changed, events = application.handle(Approve(), reviewer, svc.clock.now())
        t2 = clock()
        svc.repository.save(changed, events, expected_version=application.version)
        t3 = clock()
        svc.dispatch_pending()
        t4 = clock()
        from_json(stored, DeveloperApplication)
        t5 = clock()
        to_json(changed, include_secrets=True)
        t6 = clock()
        whole.append(t4 - t0)
        spans = (t1 - t0, t5 - t4, t2 - t1, t3 - t2, t6 - t5, t4 - t3)
        for name, spent in zip(seconds, spans, strict=True):
            seconds[name].append(spent)
    return [
        Breakdown(
            f"{title}: one approve, step by step",
            statistics.median(whole),
            tuple((name, statistics.median(values)) for name, values in seconds.items()),
            f"The service's own steps replayed for {len(copies)} applications, each step timed"
            " as it ran; medians (so the pieces need not add up exactly).",
        ),
        harness.profile(title, case, settings.profile_seconds, steps=SERVICE_STEPS),
    ]


def fresh_interpreter(statement: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """Run ``python <flags> -c <statement>`` in a clean environment and a neutral directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [sys.executable, *flags, "-c", statement],
        cwd=tempfile.gettempdir(),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def imports(statement: str) -> list[Explanation]:
    """``-X importtime`` of ``statement``: the modules by own and cumulative import time."""
    lines = fresh_interpreter(statement, "-X", "importtime").stderr.splitlines()
    own: dict[str, float] = {}
    cumulative: dict[str, float] = {}
    for line in lines:
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        module = name.strip()
        own[module] = float(self_us)
        cumulative[module] = float(cumulative_us)
    total = sum(own.values()) or 1.0
    areas: dict[str, float] = {}
    for module, micros in own.items():
        top = module.split(".")[0]
        areas[top] = areas.get(top, 0.0) + micros / total
    heaviest = sorted(own, key=lambda m: -own[m])[:12]
    return [
        Profile(
            f"`{statement}` (python -X importtime)",
            total / 1e6,
            tuple(ProfileRow(m, "module", own[m] / total, cumulative[m] / total) for m in heaviest),
            tuple(sorted(areas.items(), key=lambda item: -item[1])),
        )
    ]
