"""A third-party repository adapter: the whole store in one JSON file, replaced atomically.

This is what an adapter author writes: the twenty-four methods of the `Repository` port, using the
library's serialisation, and a test that subclasses `RepositoryContract` (see
tests/test_examples.py). Fine for a notebook or a tiny tool; use SQLite for anything busier.

Run: python examples/custom_repository.py
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import attrs

from aliexpress_onboarding import (
    AlreadyExistsError,
    App,
    ApplicationStatus,
    AuthorizationRequest,
    BoundUsage,
    ConcurrencyConflictError,
    DeveloperAccount,
    DeveloperApplication,
    Event,
    NotFoundError,
    OutboxEntry,
    StoreAuthorization,
    authorization_id,
)
from aliexpress_onboarding.domain.authorization import limit_reached
from aliexpress_onboarding.ports import AggregateRoot, account_of_seller_key
from aliexpress_onboarding.serialization import from_dict, to_dict

A = TypeVar("A", DeveloperAccount, DeveloperApplication, App, StoreAuthorization)
KINDS = {
    DeveloperAccount: "account",
    DeveloperApplication: "application",
    App: "app",
    StoreAuthorization: "authorization",
}


class JsonFileRepository:
    """Every aggregate, unique key and outbox entry in one JSON file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if not self.path.exists():
            self._store(
                {"rows": {}, "keys": {}, "outbox": [], "next": 1, "requests": {}, "leases": {}}
            )

    # -- the file ---------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        return json.loads(self.path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def _store(self, state: dict[str, Any]) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(state, file)
        os.replace(temporary, self.path)  # all or nothing

    # -- aggregates -------------------------------------------------------------------------

    def get(self, kind: type[A], aggregate_id: str) -> A:
        row = self._load()["rows"].get(f"{KINDS[kind]}:{aggregate_id}")
        if row is None:
            raise NotFoundError(KINDS[kind], aggregate_id)
        return from_dict(row, kind)

    def add(self, aggregate: AggregateRoot, events: Sequence[Event]) -> None:
        with self._lock:
            state = self._load()
            if f"{KINDS[type(aggregate)]}:{aggregate.id}" in state["rows"]:
                raise ConcurrencyConflictError(aggregate.id, 0, None)
            self._write(state, aggregate, events)

    def save(
        self, aggregate: AggregateRoot, events: Sequence[Event], *, expected_version: int
    ) -> None:
        with self._lock:
            state = self._load()
            row = state["rows"].get(f"{KINDS[type(aggregate)]}:{aggregate.id}")
            if row is None:
                raise NotFoundError(KINDS[type(aggregate)], aggregate.id)
            if row["data"]["version"] != expected_version:
                raise ConcurrencyConflictError(
                    aggregate.id, expected_version, row["data"]["version"]
                )
            self._write(state, aggregate, events)

    def _write(
        self, state: dict[str, Any], aggregate: AggregateRoot, events: Sequence[Event]
    ) -> None:
        row_key = f"{KINDS[type(aggregate)]}:{aggregate.id}"
        claim = aggregate.bound_claim if isinstance(aggregate, StoreAuthorization) else None
        state["leases"].pop(aggregate.id, None)  # a write ends a refresh's lease
        if claim is not None:  # a new member past the scope's limit is refused, nothing written
            members = self._members(state, claim.scope, leaving=row_key)
            account_id = claim.scope.removeprefix("self-stores:")
            account = state["rows"].get(f"account:{account_id}")
            limit = claim.limit  # lowered since by the account's verification? then that
            if account is not None:
                limit = min(limit, from_dict(account, DeveloperAccount).verified_store_count)
            if claim.member not in members and len(members) >= limit:
                raise limit_reached()
        keys = {k: v for k, v in state["keys"].items() if v != row_key}
        for key in aggregate.unique_keys():
            if key in keys:  # taken: say by whom ("app:app-1" holds it)
                raise AlreadyExistsError(aggregate.id, key, keys[key].partition(":")[2])
            keys[key] = row_key
        state["keys"] = keys
        state["rows"][row_key] = to_dict(aggregate, include_secrets=True)
        for event in events:
            state["outbox"].append(
                {
                    "sequence": state["next"],
                    "event": to_dict(event),
                    "attempts": 0,
                    "next_attempt_at": None,
                    "last_error": None,
                    "delivered": False,
                }
            )
            state["next"] += 1
        self._store(state)

    @staticmethod
    def _members(state: dict[str, Any], scope: str, leaving: str | None = None) -> set[str]:
        """The members the records (but ``leaving``) claim in ``scope``: a scan, as all here."""
        members = set()
        for key, row in state["rows"].items():
            if key.startswith("authorization:") and key != leaving:
                claim = from_dict(row, StoreAuthorization).bound_claim
                if claim is not None and claim.scope == scope:
                    members.add(claim.member)
        return members

    def authorization(self, app_id: str, store_id: str) -> StoreAuthorization | None:
        row = self._load()["rows"].get(f"authorization:{authorization_id(app_id, store_id)}")
        return None if row is None else from_dict(row, StoreAuthorization)

    def authorizations_of_app(
        self, app_id: str, *, after: str | None = None, limit: int = 100
    ) -> list[StoreAuthorization]:
        found = [
            from_dict(row, StoreAuthorization)
            for key, row in self._load()["rows"].items()
            if key.startswith("authorization:") and row["data"]["app_id"] == app_id
        ]
        following = [a for a in found if a.is_active and (after is None or a.store_id > after)]
        return sorted(following, key=lambda a: a.store_id)[:limit]

    def _with_tokens(self) -> list[StoreAuthorization]:
        return [
            authorization
            for key, row in self._load()["rows"].items()
            if key.startswith("authorization:")
            for authorization in [from_dict(row, StoreAuthorization)]
            if authorization.is_active and authorization.token_expires_at is not None
        ]

    def token_holders(self, app_id: str, seller_id: str) -> list[StoreAuthorization]:
        found = [a for a in self._with_tokens() if a.app_id == app_id]
        return sorted((a for a in found if a.token_holder == seller_id), key=lambda a: a.id)

    def tokens_to_refresh(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        leases = self._load()["leases"]
        found = [
            a
            for a in self._with_tokens()
            if a.token_expires_at is not None
            and a.token_expires_at < before
            and a.refreshable_at(now)
            and datetime.fromisoformat(leases.get(a.id, [0, now.isoformat()])[1]) <= now
        ]
        return sorted(found, key=lambda a: (a.token_expires_at, a.id))[:limit]

    def tokens_to_alert(
        self, now: datetime, before: datetime, limit: int
    ) -> list[StoreAuthorization]:
        found = [
            a
            for a in self._with_tokens()
            if a.token_expires_at is not None
            and now <= a.token_expires_at < before
            and a.expiry_alerted_at is None
            and not a.refreshable_at(now)
        ]
        return sorted(found, key=lambda a: (a.token_expires_at, a.id))[:limit]

    def lease_refresh(
        self, authorization_id: str, version: int, now: datetime, until: datetime
    ) -> bool:
        with self._lock:
            state = self._load()
            row = state["rows"].get(f"authorization:{authorization_id}")
            if row is None or row["data"]["version"] != version:
                return False
            held_version, held_until = state["leases"].get(authorization_id, [0, None])
            if held_version == version and datetime.fromisoformat(held_until) > now:
                return False
            state["leases"][authorization_id] = [version, until.isoformat()]
            self._store(state)
            return True

    def purge_authorization_requests(self, expired_before: datetime) -> int:
        with self._lock:
            state = self._load()
            expired = [
                digest
                for digest, row in state["requests"].items()
                if from_dict(row, AuthorizationRequest).expires_at < expired_before
            ]
            for digest in expired:
                del state["requests"][digest]
            self._store(state)
            return len(expired)

    def add_authorization_request(self, request: AuthorizationRequest) -> None:
        with self._lock:
            state = self._load()
            if request.state_digest in state["requests"]:
                raise ConcurrencyConflictError(request.state_digest, 0, None)
            state["requests"][request.state_digest] = to_dict(request)
            self._store(state)

    def authorization_request(self, state_digest: str) -> AuthorizationRequest | None:
        row = self._load()["requests"].get(state_digest)
        return None if row is None else from_dict(row, AuthorizationRequest)

    def use_authorization_request(self, state_digest: str, used_at: datetime) -> bool:
        with self._lock:  # one process: the lock makes the check and the write one step
            state = self._load()
            row = state["requests"].get(state_digest)
            if row is None or row["data"]["used_at"] is not None:
                return False
            used = attrs.evolve(from_dict(row, AuthorizationRequest), used_at=used_at)
            state["requests"][state_digest] = to_dict(used)
            self._store(state)
            return True

    def bound_usage(self, scope: str, member: str) -> BoundUsage:
        members = self._members(self._load(), scope)
        return BoundUsage(len(members), holds_member=member in members)

    def list_by_account(self, kind: type[A], account_id: str) -> list[A]:
        rows = self._load()["rows"]
        found = [
            from_dict(row, kind)
            for key, row in sorted(rows.items())
            if key.startswith(f"{KINDS[kind]}:") and row["data"].get("account_id") == account_id
        ]
        return sorted(found, key=lambda a: a.id)

    def account_of_seller(self, seller_id: str) -> DeveloperAccount | None:
        state = self._load()
        row_key = state["keys"].get(account_of_seller_key(seller_id))
        return None if row_key is None else from_dict(state["rows"][row_key], DeveloperAccount)

    def open_applications(self) -> list[DeveloperApplication]:
        return self._applications_in(ApplicationStatus.UNDER_REVIEW)

    def undecided_applications(self) -> list[DeveloperApplication]:
        return self._applications_in(ApplicationStatus.UNDER_REVIEW, ApplicationStatus.ESCALATED)

    def _applications_in(self, *statuses: ApplicationStatus) -> list[DeveloperApplication]:
        applications = [
            from_dict(row, DeveloperApplication)
            for key, row in self._load()["rows"].items()
            if key.startswith("application:")
            and row["data"]["status"] in {status.value for status in statuses}
        ]
        return sorted(applications, key=lambda a: a.id)

    # -- outbox -----------------------------------------------------------------------------

    def events(self, aggregate_id: str | None = None) -> list[Event]:
        stored = [from_dict(entry["event"]) for entry in self._load()["outbox"]]
        return [e for e in stored if aggregate_id in (None, e.aggregate_id)]

    def pending_events(self, limit: int = 1000) -> list[OutboxEntry]:
        return self._entries([e for e in self._load()["outbox"] if not e["delivered"]][:limit])

    def due_events(self, now: datetime, limit: int) -> list[OutboxEntry]:
        # An aggregate whose oldest undelivered entry failed is held until its retry time,
        # and is then tried with that entry alone; the others follow once it is delivered.
        heads: dict[str, dict[str, Any]] = {}
        due = []
        for entry in self._load()["outbox"]:
            if entry["delivered"]:
                continue
            head = heads.setdefault(entry["event"]["data"]["aggregate_id"], entry)
            if head["attempts"] == 0 or (
                head is entry and datetime.fromisoformat(head["next_attempt_at"]) <= now
            ):
                due.append(entry)
        return self._entries(due[:limit])

    def release(self, sequences: Sequence[int]) -> None:
        pass  # one process, no leases

    def _entries(self, pending: list[dict[str, Any]]) -> list[OutboxEntry]:
        return [
            OutboxEntry(
                e["sequence"],
                from_dict(e["event"]),
                e["attempts"],
                None
                if e["next_attempt_at"] is None
                else datetime.fromisoformat(e["next_attempt_at"]),
                e["last_error"],
            )
            for e in pending
        ]

    def _update(self, sequence: int, **changes: Any) -> None:
        with self._lock:
            state = self._load()
            for entry in state["outbox"]:
                if entry["sequence"] == sequence:
                    entry.update(changes)
            self._store(state)

    def mark_delivered(self, sequence: int) -> None:
        self._update(sequence, delivered=True)

    def mark_failed(self, sequence: int, *, next_attempt_at: datetime, error: str) -> None:
        attempts = next(e["attempts"] for e in self._load()["outbox"] if e["sequence"] == sequence)
        self._update(
            sequence,
            attempts=attempts + 1,
            next_attempt_at=next_attempt_at.isoformat(),
            last_error=error,
        )


def main() -> None:
    from aliexpress_onboarding import Actor, OnboardingService

    with tempfile.TemporaryDirectory() as folder:
        service = OnboardingService(repository=JsonFileRepository(Path(folder) / "store.json"))
        seller = Actor.seller("cn1234567890")
        account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
        service.accept_agreement(account.id, "2021-03", actor=seller)
        account = service.account_of_seller(seller.id, actor=seller)  # read back from the file
        print(f"{account.id} is {account.status} at version {account.version}")


if __name__ == "__main__":
    main()
