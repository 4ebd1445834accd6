"""Secrets sealed at rest: AES-256-GCM under named keys, rotation, and refusals."""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding import (
    Actor,
    App,
    Approve,
    DeveloperAccount,
    DeveloperApplication,
    StorageError,
    ValidationError,
)
from aliexpress_onboarding.adapters.sqlite import SQLiteRepository
from aliexpress_onboarding.errors import SecretExposureError
from aliexpress_onboarding.samples import T0, sample_account, sample_app, sample_application
from aliexpress_onboarding.sealing import SEALED_PREFIX, Keyring

KEYRING = Keyring.generate("key-1")


def approved(account: DeveloperAccount) -> DeveloperApplication:
    application, _ = sample_application(account)
    decided, _ = application.handle(Approve(), Actor.reviewer("rev-1"), T0)
    return decided


def an_app(app_id: str = "app-1", key: str = "10000001") -> App:
    account, _ = sample_account()
    app, _ = sample_app(account, approved(account), app_id, app_key=key)
    return app


def stored_document(path: Path, app_id: str) -> str:
    """The app's row as it is on disk, read behind the repository's back."""
    with closing(sqlite3.connect(path)) as connection:
        [(document,)] = connection.execute(
            "SELECT document FROM aggregates WHERE kind = 'app' AND id = ?", (app_id,)
        ).fetchall()
    return str(document)


# ---------------------------------------------------------------------- the keyring


@given(plaintext=st.text(max_size=300), context=st.text(max_size=80))
def test_what_is_sealed_opens_to_the_same_text_in_its_own_context(
    plaintext: str, context: str
) -> None:
    """seal then open is the identity, and the sealed text shows nothing of the plaintext."""
    sealed = KEYRING.seal(plaintext, context=context)
    assert (plaintext, True) == (
        KEYRING.open(sealed, context=context),
        sealed.startswith(f"{SEALED_PREFIX}key-1:"),
    )


@given(plaintext=st.text(min_size=1, max_size=100), other=st.text(min_size=1, max_size=40))
def test_a_sealed_value_does_not_open_in_another_context(plaintext: str, other: str) -> None:
    """A value sealed for one record does not open for another (copied rows are refused)."""
    sealed = KEYRING.seal(plaintext, context="app:app-1:secret")
    with pytest.raises(StorageError):
        KEYRING.open(sealed, context=f"app:app-1:secret{other}")


def test_a_tampered_sealed_value_is_refused() -> None:
    """Flipping one character of the ciphertext: StorageError, never a wrong plaintext."""
    sealed = KEYRING.seal("a secret of sixteen+", context="c")
    tampered = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(StorageError, match="does not open"):
        KEYRING.open(tampered, context="c")


def test_a_value_sealed_with_an_unknown_key_names_the_key() -> None:
    """The error says which key is missing and which are on the ring, never a key."""
    sealed = Keyring.generate("key-other").seal("x" * 20, context="c")
    with pytest.raises(StorageError) as caught:
        KEYRING.open(sealed, context="c")
    assert ("key-other" in str(caught.value), "key-1" in str(caught.value)) == (True, True)


def test_a_key_file_round_trips_and_is_private(tmp_path: Path) -> None:
    """save then load gives a ring that opens what the first sealed; the file is mode 0600."""
    path = tmp_path / "onboarding.keys"
    KEYRING.save(path)
    sealed = KEYRING.seal("the secret value!!", context="c")
    assert ("the secret value!!", 0o600) == (
        Keyring.load(path).open(sealed, context="c"),
        os.stat(path).st_mode & 0o777,
    )


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'{"version": 1, "current": "k", "keys": {"k": "not base64!"}}',
        b'{"version": 1, "current": "k", "keys": {"k": "AAAA"}}',
        b'{"version": 2, "current": "k", "keys": {}}',
        b'{"version": 1, "current": "other", "keys": {"k": "' + b"A" * 43 + b'="}, "extra": 1}',
        b"[" * 100_000,
    ],
)
def test_a_file_that_is_not_a_key_file_is_a_validation_error(
    tmp_path: Path, content: bytes
) -> None:
    """Refused with a ValidationError naming the keyring, never quoting a key."""
    path = tmp_path / "bad.keys"
    path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        Keyring.load(path)
    assert "keyring" == caught.value.field


def test_a_keyring_shows_its_key_ids_only_and_cannot_be_pickled() -> None:
    """repr lists ids; pickling raises SecretExposureError."""
    ring = Keyring.generate("key-a")
    with pytest.raises(SecretExposureError):
        pickle.dumps(ring)
    assert "Keyring(key_ids=['key-a'], current='key-a')" == repr(ring)


# ---------------------------------------------------------------------- the stores


def test_a_persistent_store_without_a_key_refuses_to_store_an_app_secret(
    tmp_path: Path,
) -> None:
    """No keyring, plain text not allowed: StorageError, and nothing is stored."""
    repository = SQLiteRepository(tmp_path / "o.db")
    with pytest.raises(StorageError, match="plain text"):
        repository.add(an_app(), [])
    assert [] == repository.list_by_account(App, "acc-1")


def test_plain_text_is_stored_only_when_asked_for(tmp_path: Path) -> None:
    """plaintext_secrets=True keeps the secret in the clear (and says so by choice)."""
    app = an_app()
    SQLiteRepository(tmp_path / "o.db", plaintext_secrets=True).add(app, [])
    assert app.secret.reveal() in stored_document(tmp_path / "o.db", app.id)


def test_a_stored_app_secret_is_sealed_on_disk_and_opens_on_reading(tmp_path: Path) -> None:
    """The row holds no secret in the clear; the app reads back equal, secret and all."""
    app = an_app()
    repository = SQLiteRepository(tmp_path / "o.db", keyring=KEYRING)
    repository.add(app, [])
    document = stored_document(tmp_path / "o.db", app.id)
    assert (app, False, True) == (
        repository.get(App, app.id),
        app.secret.reveal() in document,
        json.loads(document)["data"]["secret"].startswith(SEALED_PREFIX),
    )


def test_a_sealed_secret_copied_into_another_app_does_not_open(tmp_path: Path) -> None:
    """Swapping sealed values between rows is detected: each is bound to its record."""
    path = tmp_path / "o.db"
    repository = SQLiteRepository(path, keyring=KEYRING)
    repository.add(an_app("app-1", "10000001"), [])
    other = sample_account("acc-2", "seller-2")[0]
    repository.add(sample_app(other, approved(other), "app-2", app_key="10000002")[0], [])
    sealed = json.loads(stored_document(path, "app-1"))["data"]["secret"]
    swapped = stored_document(path, "app-2").replace(
        json.loads(stored_document(path, "app-2"))["data"]["secret"], sealed
    )
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE aggregates SET document = ? WHERE id = 'app-2'", (swapped,))
    with pytest.raises(StorageError, match="does not open"):
        repository.get(App, "app-2")


def test_a_store_without_the_key_cannot_read_a_sealed_secret(tmp_path: Path) -> None:
    """Opening the file without its keyring: StorageError naming the key, not a crash."""
    SQLiteRepository(tmp_path / "o.db", keyring=KEYRING).add(an_app(), [])
    with pytest.raises(StorageError, match="key-1"):
        SQLiteRepository(tmp_path / "o.db").get(App, "app-1")


def test_after_a_rotation_old_records_stay_readable_and_reseal_moves_them(
    tmp_path: Path,
) -> None:
    """Rotate: old rows still open; reseal rewrites them under the new key, after which the
    old key can go."""
    path = tmp_path / "o.db"
    app = an_app()
    SQLiteRepository(path, keyring=KEYRING).add(app, [])
    rotated = KEYRING.rotated("key-2")
    repository = SQLiteRepository(path, keyring=rotated)
    readable_before = repository.get(App, app.id) == app
    resealed = repository.reseal_secrets()
    new_key_only = Keyring({"key-2": _key_bytes(rotated, "key-2")})
    assert (
        (True, 1, 0, app, f"{SEALED_PREFIX}key-2:")
        == (
            readable_before,
            resealed,
            repository.reseal_secrets(),  # nothing left to move
            SQLiteRepository(path, keyring=new_key_only).get(App, app.id),
            json.loads(stored_document(path, app.id))["data"]["secret"][: len(SEALED_PREFIX) + 6],
        )
    )


def test_reseal_seals_secrets_stored_in_plain_text(tmp_path: Path) -> None:
    """A file written with plain-text secrets (the v1 way) is sealed by reseal_secrets."""
    path = tmp_path / "o.db"
    app = an_app()
    SQLiteRepository(path, plaintext_secrets=True).add(app, [])
    repository = SQLiteRepository(path, keyring=KEYRING)
    assert (app, 1, False) == (
        repository.get(App, app.id),
        repository.reseal_secrets(),
        app.secret.reveal() in stored_document(path, app.id),
    )


@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("keyring", lambda p: SQLiteRepository(p, keyring="key-1")),  # type: ignore[arg-type]
        ("plaintext_secrets", lambda p: SQLiteRepository(p, plaintext_secrets="yes")),  # type: ignore[arg-type]
    ],
)
def test_sealing_settings_of_the_wrong_type_are_refused(
    tmp_path: Path, field: str, make: Callable[[Path], object]
) -> None:
    """A keyring that is not a Keyring, a plaintext flag that is not a bool."""
    with pytest.raises(ValidationError) as caught:
        make(tmp_path / "o.db")
    assert field == caught.value.field


def _key_bytes(ring: Keyring, key_id: str) -> bytes:
    return ring._keys[key_id]
