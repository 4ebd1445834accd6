"""Apps: guide step 3, "Apply for Appkey".

create --> active <--suspend/resume--> suspended; reset_secret, register_callback_url. The
stores that authorize an app are records of their own (`aliexpress_onboarding.domain.
authorization`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs

from ..errors import InvalidDateTimeError, RuleViolationError, ValidationError
from ._enums import IdentityHashEnum
from .account import DeveloperAccount
from .actors import Actor, Role
from .application import DeveloperApplication
from .eligibility import Problem
from .events import (
    AppCreated,
    AppResumed,
    AppSuspended,
    CallbackUrlRegistered,
    Event,
    SecretReset,
)
from .machine import EventRecorder, StateMachine, run
from .oauth import CallbackUrl
from .values import (
    AppKey,
    AppName,
    AppSecret,
    DeveloperType,
    aware,
    optional_aware,
    require_aware,
    text_field,
    version,
)

__all__ = [
    "App",
    "AppStatus",
    "RegisterCallbackUrl",
    "ResetSecret",
    "Resume",
    "Store",
    "Suspend",
]

MAX_SECRET_OVERLAP = timedelta(days=30)


class AppStatus(IdentityHashEnum):
    """Whether an app may take new store authorizations."""

    ACTIVE = "active"
    SUSPENDED = "suspended"

    def __str__(self) -> str:
        return self.value


ACCOUNT_NOT_ACTIVE = Problem(
    "account_not_active", "Only an activated developer account can create apps."
)
NO_APPROVED_APPLICATION = Problem(
    "no_approved_application",
    "Create apps only for a developer type whose application is approved (guide step 3.2).",
)
APP_NAME_TAKEN = Problem("app_name_taken", "Another app of this account already has this name.")


@attrs.frozen
class Store:
    """A seller's store, as the authorizing seller presents it."""

    store_id: str = attrs.field(validator=text_field(128))
    seller_id: str = attrs.field(validator=text_field(128))
    enterprise_id: str = attrs.field(validator=text_field(128))


@attrs.frozen
class App:
    """An app on the AliExpress Open Platform, with its appKey and appSecret.

    The secret is an `AppSecret`: it prints as a mask. During a reset's overlap window the
    previous secret still matches (`secret_matches`). The stores that authorize the app are
    `StoreAuthorization` records of their own: loading an app never reads them.
    """

    id: str = attrs.field(validator=text_field(128))
    owner_id: str = attrs.field(validator=text_field(128))
    account_id: str = attrs.field(validator=text_field(128))
    enterprise_id: str = attrs.field(validator=text_field(128))
    developer_type: DeveloperType
    name: AppName
    app_key: AppKey
    secret: AppSecret
    created_at: datetime = attrs.field(validator=aware)
    updated_at: datetime = attrs.field(validator=aware)
    status: AppStatus = AppStatus.ACTIVE
    version: int = attrs.field(default=1, validator=version)
    previous_secret: AppSecret | None = None
    previous_secret_valid_until: datetime | None = attrs.field(
        default=None, validator=optional_aware
    )
    callback_url: CallbackUrl | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(CallbackUrl))
    )

    machine: ClassVar[StateMachine[AppStatus]]

    @classmethod
    def create(
        cls,
        app_id: str,
        *,
        account: DeveloperAccount,
        developer_type: DeveloperType | str,
        name: AppName | str,
        applications: Iterable[DeveloperApplication],
        existing_apps: Iterable[App],
        app_key: AppKey,
        secret: AppSecret,
        actor: Actor,
        now: datetime,
    ) -> tuple[App, tuple[Event, ...]]:
        """Create an app and issue its credentials (guide steps 3.1-3.4).

        Args:
            app_id: the new app's id.
            account: the owning account; it must be active.
            developer_type: a type whose application is approved for this account.
            name: the app's name (`AppName` rules); unique among the account's apps.
            applications: the account's applications.
            existing_apps: the account's apps.
            app_key: the appKey to issue (from the credential generator).
            secret: the appSecret to issue (from the credential generator).
            actor: the account's owner.
            now: the creation time.

        Raises:
            PermissionDeniedError: ``actor`` is not the account's owner.
            RuleViolationError: inactive account, no approved application of the type, or
                the name is taken.
            ValidationError: malformed arguments.
        """
        now = require_aware("now", now)
        kind = DeveloperType.parse(developer_type)
        app_name = name if isinstance(name, AppName) else AppName(name)
        if not isinstance(account, DeveloperAccount):
            raise ValidationError("account", account, "must be a DeveloperAccount")
        if not isinstance(app_key, AppKey) or not isinstance(secret, AppSecret):
            raise ValidationError("credentials", None, "must be an AppKey and an AppSecret")
        app = cls(
            id=app_id,
            owner_id=account.owner_id,
            account_id=account.id,
            enterprise_id=account.enterprise_id,
            developer_type=kind,
            name=app_name,
            app_key=app_key,
            secret=secret,
            created_at=now,
            updated_at=now,
        )
        APP_MACHINE.check_creation(app, actor)
        problems = []
        if not account.is_active:
            problems.append(ACCOUNT_NOT_ACTIVE)
        if not any(
            a.account_id == account.id and a.developer_type is kind and a.is_approved
            for a in applications
        ):
            problems.append(NO_APPROVED_APPLICATION)
        if any(a.account_id == account.id and a.name == app_name for a in existing_apps):
            problems.append(APP_NAME_TAKEN)
        if problems:
            raise RuleViolationError("create_app", problems)
        recorder = EventRecorder(app_id, 1, now, actor)
        recorder.record(
            AppCreated, account_id=account.id, name=app_name, app_key=app_key, developer_type=kind
        )
        return app, tuple(recorder.events)

    def handle(
        self,
        command: ResetSecret | RegisterCallbackUrl | Suspend | Resume,
        actor: Actor,
        now: datetime,
    ) -> tuple[App, tuple[Event, ...]]:
        """Apply one command; the app itself is never changed.

        Raises:
            PermissionDeniedError: the actor may not run the command.
            TransitionNotAllowedError: the command is not allowed in the current state.
            RuleViolationError: a domain rule refuses the command now (see ``.problems``).
            InvalidDateTimeError: ``now`` is naive.
        """
        return run(APP_MACHINE, self, command, actor, now)

    def _repr_html_(self) -> str:
        from .records import record_html  # only in notebooks

        return record_html(self)

    def unique_keys(self) -> frozenset[str]:
        """Keys no other stored aggregate may hold: the name within the account, the appKey."""
        return frozenset({f"app-name:{self.account_id}:{self.name}", f"app-key:{self.app_key}"})

    def secret_matches(self, candidate: AppSecret | str, now: datetime) -> bool:
        """Whether ``candidate`` is the secret, or the previous one within its overlap window.

        Both comparisons always run, in constant time, so timing tells nothing.
        """
        require_aware("now", now)
        current = self.secret.matches(candidate)
        previous = self.previous_secret is not None and self.previous_secret.matches(candidate)
        in_window = self.previous_valid_at(now)
        return current or (previous and in_window)

    def previous_valid_at(self, now: datetime) -> bool:
        """Whether the previous secret still matches at ``now`` (the overlap window)."""
        until = self.previous_secret_valid_until
        return until is not None and now < until


def _secret(_: object, __: object, value: Any) -> None:
    if not isinstance(value, AppSecret):
        raise ValidationError("new_secret", None, "must be an AppSecret", secret=True)


def _overlap(_: object, __: object, value: Any) -> None:
    if not isinstance(value, timedelta) or not timedelta(0) <= value <= MAX_SECRET_OVERLAP:
        raise ValidationError("overlap", value, "must be a timedelta from 0 to 30 days")


@attrs.frozen
class ResetSecret:
    """Replace the appSecret; the old one keeps matching for ``overlap`` (default: not at all)."""

    new_secret: AppSecret = attrs.field(validator=_secret)
    overlap: timedelta = attrs.field(default=timedelta(0), validator=_overlap)
    name: ClassVar[str] = "reset_secret"

    def guard(self, app: App, actor: Actor, now: datetime) -> Sequence[Problem]:
        """Nothing beyond state and actor."""
        return ()

    def effect(self, app: App, events: EventRecorder) -> Mapping[str, Any]:
        """Swap the secrets; the event says until when the old one matches, never its value."""
        try:
            until = events.now + self.overlap if self.overlap else None
        except OverflowError:
            raise InvalidDateTimeError(
                "overlap", self.overlap, "ends after the year 9999"
            ) from None
        events.record(SecretReset, previous_valid_until=until)
        return {
            "secret": self.new_secret,
            "previous_secret": app.secret if until else None,
            "previous_secret_valid_until": until,
        }


def _callback(value: CallbackUrl | str) -> CallbackUrl:
    return value if isinstance(value, CallbackUrl) else CallbackUrl(value)


@attrs.frozen
class RegisterCallbackUrl:
    """Register (or replace) the app's callback URL, where the platform sends sellers back.

    An authorization started before the change keeps the URL it was started with.

    Raises:
        InvalidCallbackUrlError: the URL breaks a `CallbackUrl` rule (https, or http on a
            loopback host; no query, no fragment; ...).
    """

    url: CallbackUrl = attrs.field(converter=_callback)
    name: ClassVar[str] = "register_callback_url"

    def guard(self, app: App, actor: Actor, now: datetime) -> Sequence[Problem]:
        """Nothing beyond state and actor."""
        return ()

    def effect(self, app: App, events: EventRecorder) -> Mapping[str, Any]:
        """Keep the URL."""
        events.record(CallbackUrlRegistered, callback_url=self.url.value)
        return {"callback_url": self.url}


@attrs.frozen
class Suspend:
    """The platform suspends the app: it takes no new store authorizations."""

    reason: str = attrs.field(validator=text_field(1000))
    name: ClassVar[str] = "suspend"

    def guard(self, app: App, actor: Actor, now: datetime) -> Sequence[Problem]:
        """Nothing beyond state and actor."""
        return ()

    def effect(self, app: App, events: EventRecorder) -> Mapping[str, Any]:
        """Record why."""
        events.record(AppSuspended, reason=self.reason)
        return {}


@attrs.frozen
class Resume:
    """The platform lifts a suspension."""

    name: ClassVar[str] = "resume"

    def guard(self, app: App, actor: Actor, now: datetime) -> Sequence[Problem]:
        """Nothing beyond state and actor."""
        return ()

    def effect(self, app: App, events: EventRecorder) -> Mapping[str, Any]:
        """Record it."""
        events.record(AppResumed)
        return {}


APP_MACHINE: StateMachine[AppStatus] = StateMachine(
    "App",
    AppStatus,
    AppStatus.ACTIVE,
    commands={
        "create_app": frozenset({Role.OWNER}),
        ResetSecret.name: frozenset({Role.OWNER}),
        RegisterCallbackUrl.name: frozenset({Role.OWNER}),
        Suspend.name: frozenset({Role.REVIEWER}),
        Resume.name: frozenset({Role.REVIEWER}),
    },
    edges=[
        (AppStatus.ACTIVE, ResetSecret.name, AppStatus.ACTIVE),
        (AppStatus.SUSPENDED, ResetSecret.name, AppStatus.SUSPENDED),
        (AppStatus.ACTIVE, RegisterCallbackUrl.name, AppStatus.ACTIVE),
        (AppStatus.SUSPENDED, RegisterCallbackUrl.name, AppStatus.SUSPENDED),
        (AppStatus.ACTIVE, Suspend.name, AppStatus.SUSPENDED),
        (AppStatus.SUSPENDED, Resume.name, AppStatus.ACTIVE),
    ],
    creation="create_app",
)
App.machine = APP_MACHINE
