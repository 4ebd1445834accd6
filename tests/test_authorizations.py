"""Store authorizations as records of their own: the Self bound per developer, the cost of one
more store, and the migration of release 1's stores (listed inside the app's document)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding import (
    AccessToken,
    Actor,
    App,
    Applicant,
    Approve,
    AuthorizationStatus,
    BoundUsage,
    DeveloperProfile,
    DeveloperType,
    EmailAddress,
    LicenseDocument,
    OnboardingService,
    RefreshToken,
    RuleViolationError,
    Store,
    StoreAuthorization,
    authorization_id,
    self_stores_scope,
)
from aliexpress_onboarding.adapters.email import account_email_lookup
from aliexpress_onboarding.adapters.sqlite import SCHEMA_VERSION, SQLiteRepository
from aliexpress_onboarding.ports import Repository
from aliexpress_onboarding.sealing import Keyring
from aliexpress_onboarding.serialization import from_json, split_release_1_app, to_json
from aliexpress_onboarding.testing import T0, sample_account, sample_app, sample_application

VERIFIER = Actor.reviewer("verifier-1")  # records the verified enterprise
DATA = Path(__file__).parent / "data"
OWNER = Actor.seller("seller-1")
REVIEWER = Actor.reviewer("rev-1")
PROFILE = DeveloperProfile("Wei Zhang", EmailAddress("dev@sunrise.example.com"))
DOCUMENT = LicenseDocument.from_bytes(b"\xff\xd8\xff" + bytes(16), filename="licence.jpg")
FACTS = Applicant(name="Sunrise", country="CN", is_enterprise=True, is_aliexpress_seller=True)


class Clock:
    def __init__(self) -> None:
        self.current = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


@pytest.fixture(params=["memory", "sqlite"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repository]:
    if request.param == "memory":
        yield OnboardingService().repository
        return
    sqlite = SQLiteRepository(tmp_path / "db.sqlite", plaintext_secrets=True)
    yield sqlite
    sqlite.close()


def _two_self_apps(service: OnboardingService, stores: int) -> tuple[App, App, Store, Store, Store]:
    account = service.register_account(seller_id=OWNER.id, enterprise_id="ent-1", actor=OWNER)
    service.verify_enterprise(account.id, "ent-1", stores, actor=VERIFIER)
    service.accept_agreement(account.id, "2024-01", actor=OWNER)
    service.submit_profile(account.id, PROFILE, actor=OWNER)
    application = service.apply(account.id, "self", FACTS, DOCUMENT, actor=OWNER)
    service.approve(application.id, actor=REVIEWER)
    first = service.create_app(account.id, "self", "first_app", actor=OWNER)
    second = service.create_app(account.id, "self", "second_app", actor=OWNER)
    s1, s2, s3 = (Store(f"s{n}", OWNER.id, "ent-1") for n in (1, 2, 3))
    return first, second, s1, s2, s3


def _refused(call: object) -> list[str]:
    with pytest.raises(RuleViolationError) as caught:
        call()  # type: ignore[operator]
    return [problem.code for problem in caught.value.problems]


# --------------------------------------------------------------------------- the Self bound


def test_self_store_bound_is_per_developer_across_its_self_apps(repository: Repository) -> None:
    """Two Self apps of an enterprise verified for 2 stores serve 2 stores between them, not 3."""
    service = OnboardingService(repository=repository, clock=Clock())
    first, second, s1, s2, s3 = _two_self_apps(service, stores=2)
    service.authorize_store(first.id, s1, actor=OWNER)
    service.authorize_store(second.id, s2, actor=OWNER)
    assert ["store_limit_reached"] == _refused(
        lambda: service.authorize_store(second.id, s3, actor=OWNER)
    )
    assert ["store_limit_reached"] == _refused(
        lambda: service.authorize_store(first.id, s3, actor=OWNER)
    )
    assert None is repository.authorization(first.id, "s3")


def test_a_store_on_two_self_apps_counts_once(repository: Repository) -> None:
    """A store already served by one Self app takes no new place on another; revoking it from
    one app keeps the place taken until no app of the developer has it."""
    service = OnboardingService(repository=repository, clock=Clock())
    first, second, s1, s2, s3 = _two_self_apps(service, stores=2)
    service.authorize_store(first.id, s1, actor=OWNER)
    service.authorize_store(second.id, s2, actor=OWNER)
    service.authorize_store(second.id, s1, actor=OWNER)  # s1 again: no new place
    service.revoke_store(first.id, "s1", actor=OWNER)
    assert ["store_limit_reached"] == _refused(
        lambda: service.authorize_store(first.id, s3, actor=OWNER)
    )
    service.revoke_store(second.id, "s1", actor=OWNER)  # now no app has s1: its place is free
    authorization = service.authorize_store(first.id, s3, actor=OWNER)
    scope = self_stores_scope(first.account_id)
    assert (True, BoundUsage(2, holds_member=True)) == (
        authorization.is_active,
        repository.bound_usage(scope, "s3"),
    )


def test_a_store_authorizes_again_after_a_revocation(repository: Repository) -> None:
    """The same record comes back to life: one record per app and store, its version grows."""
    service = OnboardingService(repository=repository, clock=Clock())
    first, _, s1, _, _ = _two_self_apps(service, stores=1)
    service.authorize_store(first.id, s1, actor=OWNER)
    assert ["store_already_authorized"] == _refused(
        lambda: service.authorize_store(first.id, s1, actor=OWNER)
    )
    revoked = service.revoke_store(first.id, "s1", actor=OWNER)
    assert ["store_not_authorized"] == _refused(
        lambda: service.revoke_store(first.id, "s1", actor=OWNER)
    )
    again = service.authorize_store(first.id, s1, actor=OWNER)
    assert (AuthorizationStatus.REVOKED, 2, AuthorizationStatus.ACTIVE, 3, again.id) == (
        revoked.status,
        revoked.version,
        again.status,
        again.version,
        authorization_id(first.id, "s1"),
    )


def test_an_authorizations_events_reach_the_apps_owner_by_email(repository: Repository) -> None:
    """The e-mail lookup finds the account of an authorization's app."""
    service = OnboardingService(repository=repository, clock=Clock())
    first, _, s1, _, _ = _two_self_apps(service, stores=1)
    authorization = service.authorize_store(first.id, s1, actor=OWNER)
    (event,) = repository.events(authorization.id)
    assert PROFILE.email == account_email_lookup(repository)(event)


# --------------------------------------------------------------------------- cost per store


def _shape(statement: str) -> str:
    """A statement with its values blanked: what it does, not what it writes."""
    return re.sub(r"\b\d+\b", "?", re.sub(r"'(?:[^']|'')*'", "?", statement))


def _statements(repository: SQLiteRepository) -> list[str]:
    """Record the SQL this thread's connection runs from now on."""
    seen: list[str] = []
    repository._connection().set_trace_callback(seen.append)
    return seen


def test_one_more_store_costs_the_same_whatever_the_app_already_has(tmp_path: Path) -> None:
    """The 1001st store runs the statements the 11th ran, writing as much, and loading the app
    reads no authorization (each is a record of its own: no list inside the app).

    Release 1 rewrote the app's document with every store in it: 1 000 stores more each time.
    """
    repository = SQLiteRepository(tmp_path / "db.sqlite", plaintext_secrets=True)
    service = OnboardingService(repository=repository, clock=Clock(), auto_dispatch=False)
    first, _, _, _, _ = _two_self_apps(service, stores=2000)
    traces = {}
    for n in range(1, 1002):
        seen = _statements(repository) if n in (11, 1001) else None
        service.authorize_store(first.id, Store(f"store-{n:05d}", OWNER.id, "ent-1"), actor=OWNER)
        if seen is not None:
            traces[n] = list(seen)
    seen = _statements(repository)
    service.app(first.id, actor=OWNER)
    loading = list(seen)
    repository._connection().set_trace_callback(None)
    assert [_shape(s) for s in traces[11]] == [_shape(s) for s in traces[1001]]
    assert sum(map(len, traces[11])) == sum(map(len, traces[1001]))  # as many bytes written
    assert [] == [s for s in loading if "authorizations" in s]


# --------------------------------------------------------------------------- round trip


_TOKENS = (
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=48)
    .map(
        "token:".__add__  # 16 characters at least, and found in no other field
    )
    .map(lambda t: t.ljust(16, "x"))
)


@given(
    store_id=st.text(st.characters(codec="utf-8", categories=["L", "N", "P"]), min_size=1),
    limit=st.one_of(st.none(), st.integers(0, 10_000)),
    revoked=st.booleans(),
    tokens=st.one_of(st.none(), st.tuples(_TOKENS, _TOKENS)),
)
def test_an_authorization_round_trips_through_json(
    store_id: str, limit: int | None, revoked: bool, tokens: tuple[str, str] | None
) -> None:
    """Any store id, bound and tokens, active or revoked: the stored document reads back equal;
    the default (public) document holds no token."""
    account, _ = sample_account()
    application, _ = sample_application(account, developer_type=DeveloperType.COMMERCIAL)
    app, _ = sample_app(account, application.handle(Approve(), REVIEWER, T0)[0])
    authorization = StoreAuthorization(
        id=authorization_id(app.id, store_id[:128]),
        app_id=app.id,
        account_id=account.id,
        app_owner_id=app.owner_id,
        developer_type=DeveloperType.SELF if limit is not None else DeveloperType.COMMERCIAL,
        store=Store(store_id[:128], "seller-9", "ent-9"),
        authorized_at=datetime(2026, 3, 2, tzinfo=UTC),
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
        updated_at=datetime(2026, 3, 3, tzinfo=UTC),
        store_limit=limit,
        status=AuthorizationStatus.REVOKED if revoked else AuthorizationStatus.ACTIVE,
        **(
            {}
            if tokens is None
            else {
                "access_token": AccessToken(tokens[0]),
                "refresh_token": RefreshToken(tokens[1]),
                "token_expires_at": datetime(2026, 4, 1, tzinfo=UTC),
                "refresh_expires_at": datetime(2026, 5, 1, tzinfo=UTC),
            }
        ),
    )
    stored = to_json(authorization, include_secrets=True)
    public = to_json(authorization)
    assert authorization == from_json(stored, StoreAuthorization)
    assert ('"access_token"' in public, '"refresh_token"' in public) == (False, False)
    if tokens is not None:
        assert (tokens[0] in public, tokens[1] in public) == (False, False)


# --------------------------------------------------------------------------- release 1's stores


def _release_1_store(tmp_path: Path) -> tuple[Path, Keyring]:
    """A copy of the file release 1 wrote (see tests/data/make_v1_store.py) and its key."""
    copy = tmp_path / "v1.sqlite"
    shutil.copy(DATA / "v1-authorizations.sqlite", copy)
    return copy, Keyring.load(DATA / "v1-authorizations.keys")


def _release_1_apps(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT id, document FROM aggregates WHERE kind = 'app'")
        return dict(rows.fetchall())


def _check_split(repository: Repository, documents: dict[str, str]) -> None:
    """Every app reads again; every listed store is now a record; the bound counts them."""
    apps = {app_id: repository.get(App, app_id) for app_id in documents}
    names = {str(app.name): app for app in apps.values()}
    one, two, isv = names["self_one"], names["self_two"], names["isv_one"]
    listed = {
        app.id: [a.store_id for a in repository.authorizations_of_app(app.id)]
        for app in (one, two, isv)
    }
    assert {one.id: ["s2", "s4"], two.id: ["s2", "s3"], isv.id: ["o1"]} == listed
    moved = repository.authorization(one.id, "s4")
    assert moved is not None
    assert (2, "2026-11-02T09:31:00+00:00", OWNER_V1) == (
        moved.store_limit,
        moved.authorized_at.isoformat(),
        moved.app_owner_id,
    )
    assert None is repository.authorization(one.id, "s1")  # revoked under release 1: gone then
    # Release 1 bounded each app alone: the enterprise serves 3 stores on a bound of 2. They
    # stay; no new store comes in until the developer is back under its bound.
    scope = self_stores_scope(one.account_id)
    assert BoundUsage(3, holds_member=True) == repository.bound_usage(scope, "s3")
    # The seller had set its own store count: it is not carried over. Until a reviewer
    # verifies the enterprise, its Self apps take no new store.
    seller = Actor.seller(OWNER_V1)
    service = OnboardingService(repository=repository, clock=Clock())
    s3, s5 = Store("s3", OWNER_V1, "ent-v1"), Store("s5", OWNER_V1, "ent-v1")
    unverified = _refused(lambda: service.authorize_store(one.id, s5, actor=seller))
    account = service.verify_enterprise(one.account_id, "ent-v1", 2, actor=REVIEWER)
    refused = _refused(lambda: service.authorize_store(one.id, s5, actor=seller))
    again = service.authorize_store(one.id, s3, actor=seller)
    assert (["enterprise_not_verified"], ["store_limit_reached"], True, 4) == (
        unverified,
        refused,
        again.is_active,
        account.version,  # release 1: registered, agreement, profile (3); the verification
    )
    assert not any(apps[a].secret.reveal().startswith("sealed:") for a in apps)


OWNER_V1 = "seller-v1"


def test_release_1_stores_in_an_sqlite_file_become_records(tmp_path: Path) -> None:
    """A file written by release 1 opens: each app's listed stores become records, in place."""
    path, keyring = _release_1_store(tmp_path)
    documents = _release_1_apps(path)
    assert all('"authorizations"' in document for document in documents.values())
    repository = SQLiteRepository(path, keyring=keyring)
    try:
        _check_split(repository, documents)
    finally:
        repository.close()
    with closing(sqlite3.connect(path)) as connection:
        versions = connection.execute("SELECT version FROM schema_version").fetchall()
    assert [(n,) for n in range(1, SCHEMA_VERSION + 1)] == versions
    assert not any('"authorizations"' in d for d in _release_1_apps(path).values())


def test_release_1_stores_in_postgresql_become_records(postgres_url: str, tmp_path: Path) -> None:
    """The same rows, in a schema migrated by release 1 (version 3): split when opened."""
    psycopg = pytest.importorskip("psycopg")
    from psycopg import sql

    from aliexpress_onboarding.adapters import postgres

    path, keyring = _release_1_store(tmp_path)
    with closing(sqlite3.connect(path)) as connection:
        aggregates = connection.execute(
            "SELECT kind, id, version, account_id, status, document FROM aggregates"
        ).fetchall()
        keys = connection.execute("SELECT key, kind, id FROM unique_keys").fetchall()
    schema = f"v1_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        connection.execute(
            sql.SQL("CREATE TABLE {}.schema_version (version INTEGER PRIMARY KEY)").format(
                sql.Identifier(schema)
            )
        )
        for version in (1, 2, 3):
            for statement in postgres._MIGRATIONS[version]:
                connection.execute(sql.SQL(statement).format(schema=sql.Identifier(schema)))
            connection.execute(
                sql.SQL("INSERT INTO {}.schema_version VALUES (%s)").format(sql.Identifier(schema)),
                (version,),
            )
        with connection.cursor() as cursor:
            cursor.executemany(
                sql.SQL("INSERT INTO {}.aggregates VALUES (%s, %s, %s, %s, %s, %s)").format(
                    sql.Identifier(schema)
                ),
                aggregates,
            )
            cursor.executemany(
                sql.SQL("INSERT INTO {}.unique_keys VALUES (%s, %s, %s)").format(
                    sql.Identifier(schema)
                ),
                keys,
            )
    repository = postgres.PostgresRepository(postgres_url, schema=schema, keyring=keyring)
    try:
        _check_split(repository, _release_1_apps(path))
    finally:
        repository.close()
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_a_document_without_a_list_is_left_as_it_is() -> None:
    """Today's app documents pass the split unchanged, with no authorization."""
    account, _ = sample_account()
    application, _ = sample_application(account)
    app, _ = sample_app(account, application.handle(Approve(), REVIEWER, T0)[0])
    document = json.loads(to_json(app, include_secrets=True))
    assert (document, []) == split_release_1_app(document)
