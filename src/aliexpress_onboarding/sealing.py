"""Secrets sealed at rest: AES-256-GCM under named keys, so that keys can rotate.

A `Keyring` holds AES-256 keys by id; the *current* one seals, every one opens. A sealed value
is text, ``sealed:v1:<key id>:<base64 of nonce + ciphertext + tag>``, and is bound to where it
is stored (``context``, e.g. ``"app:app-123:secret"``): a sealed value copied into another
record does not open there. The SQLite and PostgreSQL repositories seal appSecrets with the
keyring they are given; ``aliexpress-onboarding keys new`` makes a key file and
``keys rotate`` adds a newer key, after which ``reseal`` re-seals every stored secret under it
(old records stay readable meanwhile: the old key is still on the ring).

Needs the ``sealing`` extra (``pip install "aliexpress-onboarding[sealing]"``: the
`cryptography` package), imported only when a secret is sealed or opened.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar

from .domain.account import DeveloperAccount
from .domain.app import App
from .domain.application import DeveloperApplication
from .domain.authorization import StoreAuthorization
from .errors import SecretExposureError, StorageError, ValidationError
from .serialization import (
    dump_document,
    from_stored_dict,
    from_stored_json,
    parse_stored_json,
    to_dict,
    to_json,
)

if TYPE_CHECKING:
    from .ports import AggregateRoot

__all__ = ["SEALED_PREFIX", "Keyring", "StoredSecrets", "is_sealed"]

A = TypeVar("A", DeveloperAccount, DeveloperApplication, App, StoreAuthorization)

SEALED_PREFIX: Final = "sealed:v1:"
"""How every sealed value starts (an appSecret never contains ``:``)."""

_KEY_BYTES: Final = 32  # AES-256
_NONCE_BYTES: Final = 12  # GCM's standard nonce; random per seal, never reused in practice
_KEY_ID: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FILE_VERSION: Final = 1
_MAX_KEY_FILE: Final = 1024 * 1024


def is_sealed(value: str) -> bool:
    """Whether a stored value is sealed (rather than a secret kept in plain text)."""
    return value.startswith(SEALED_PREFIX)


def _aesgcm(key: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - depends on the installation
        raise StorageError(
            "sealing secrets needs the 'cryptography' package:"
            " pip install 'aliexpress-onboarding[sealing]'"
        ) from None
    return AESGCM(key)


class Keyring:
    """AES-256 keys by id: the current one seals, all of them open.

    Never shows a key: ``repr`` lists the key ids only, and a keyring cannot be pickled.

    Args:
        keys: key id → 32 random bytes. Ids are 1 to 64 ASCII letters, digits, ``.``, ``_``
            or ``-``.
        current: the id that seals (default: the last of ``keys``).

    Raises:
        ValidationError: no keys, a malformed id or key, or an unknown ``current``.
    """

    __slots__ = ("_current", "_keys")

    def __init__(self, keys: Mapping[str, bytes], *, current: str | None = None) -> None:
        if not isinstance(keys, Mapping) or not keys:
            raise ValidationError("keys", None, "must map at least one key id to a key")
        checked: dict[str, bytes] = {}
        for key_id, key in keys.items():
            if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
                raise ValidationError(
                    "key_id", key_id, "must be 1 to 64 ASCII letters, digits, '.', '_' or '-'"
                )
            if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
                raise ValidationError("key", None, f"must be {_KEY_BYTES} bytes", secret=True)
            checked[key_id] = key
        current = list(checked)[-1] if current is None else current
        if current not in checked:
            raise ValidationError("current", current, "must be one of the key ids")
        self._keys = checked
        self._current = current

    # ------------------------------------------------------------------ making and keeping

    @classmethod
    def generate(cls, key_id: str | None = None) -> Keyring:
        """A keyring of one fresh random key (from `secrets`)."""
        key_id = key_id or f"key-{secrets.token_hex(4)}"
        return cls({key_id: secrets.token_bytes(_KEY_BYTES)})

    def rotated(self, key_id: str | None = None) -> Keyring:
        """This keyring plus a fresh key, which becomes current (old records stay readable)."""
        key_id = key_id or f"key-{secrets.token_hex(4)}"
        if key_id in self._keys:
            raise ValidationError("key_id", key_id, "is already on the keyring")
        keys = {**self._keys, key_id: secrets.token_bytes(_KEY_BYTES)}
        return Keyring(keys, current=key_id)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        """Read a key file written by `save`.

        Raises:
            StorageError: the file cannot be read.
            ValidationError: the file is not a key file (never quoting a key).
        """
        try:
            with open(path, "rb") as file:
                raw = file.read(_MAX_KEY_FILE + 1)
        except OSError as error:
            raise StorageError(f"cannot read the key file {os.fspath(path)!r}: {error}") from None
        if len(raw) > _MAX_KEY_FILE:
            _bad_file(path, f"larger than {_MAX_KEY_FILE} bytes")
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):
            _bad_file(path, "not JSON")
        if (
            not isinstance(document, dict)
            or document.get("version") != _FILE_VERSION
            or set(document) != {"version", "current", "keys"}
            or not isinstance(document["keys"], dict)
            or not isinstance(document["current"], str)
        ):
            _bad_file(path, 'expected {"version": 1, "current": <id>, "keys": {<id>: <base64>}}')
        keys = {}
        for key_id, encoded in document["keys"].items():
            try:
                keys[key_id] = base64.b64decode(str(encoded), validate=True)
            except (binascii.Error, ValueError):
                _bad_file(path, f"key {key_id[:64]!r} is not base64")
        try:
            return cls(keys, current=document["current"])
        except ValidationError as error:
            _bad_file(path, f"{error.field}: {error.rule}")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the keyring to a new file readable by its owner only (mode 0600).

        Raises:
            StorageError: the file exists already, or cannot be written.
        """
        document = {
            "version": _FILE_VERSION,
            "current": self._current,
            "keys": {key_id: base64.b64encode(key).decode() for key_id, key in self._keys.items()},
        }
        target = Path(path)
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(document, file, indent=2)
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)  # all or nothing: a rotation never half-writes
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise StorageError(f"cannot write the key file {os.fspath(path)!r}: {error}") from None

    # ------------------------------------------------------------------ sealing

    @property
    def current(self) -> str:
        """The id of the key that seals."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id on the ring, oldest first."""
        return tuple(self._keys)

    def seal(self, plaintext: str, *, context: str) -> str:
        """``plaintext`` sealed under the current key, bound to ``context``."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = _aesgcm(self._keys[self._current]).encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        return f"{SEALED_PREFIX}{self._current}:{base64.b64encode(nonce + sealed).decode()}"

    def sealed_with(self, value: str) -> str | None:
        """The id of the key a sealed value was sealed with (``None``: not sealed)."""
        if not is_sealed(value):
            return None
        return value[len(SEALED_PREFIX) :].partition(":")[0]

    def open(self, value: str, *, context: str) -> str:
        """The plaintext of a value `seal` made for the same ``context``.

        Raises:
            StorageError: the key is not on this ring, or the value does not open (tampered,
                truncated, or sealed for another record); the message never shows a key.
        """
        key_id, _, payload = value[len(SEALED_PREFIX) :].partition(":")
        key = self._keys.get(key_id)
        if not is_sealed(value) or key is None:
            raise StorageError(
                f"{context}: sealed with key {key_id[:64]!r}, which is not on the keyring"
                f" (it has {list(self._keys)}); load the key file that holds it"
            )
        try:
            raw = base64.b64decode(payload, validate=True)
            opened: bytes = _aesgcm(key).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")
            )
            return opened.decode("utf-8")
        except Exception:  # InvalidTag, bad base64, bad UTF-8: never say more than this
            raise StorageError(
                f"{context}: the sealed value does not open with key {key_id!r}"
                " (tampered, truncated, or sealed for another record)"
            ) from None

    def __repr__(self) -> str:
        return f"Keyring(key_ids={list(self._keys)!r}, current={self._current!r})"

    def __copy__(self) -> Keyring:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> Keyring:
        return self

    def __reduce__(self) -> NoReturn:
        raise SecretExposureError("a Keyring holds secret keys and cannot be pickled")


# The fields that hold secrets, per stored document type, and the name their seal is bound to.
_SECRET_FIELDS: Final = {
    "App": ("app", ("secret", "previous_secret")),
    "StoreAuthorization": ("authorization", ("access_token", "refresh_token")),
}


class StoredSecrets:
    """How a repository writes the secrets inside its documents: sealed, or plain if allowed.

    Args:
        keyring: seals what is written and opens what is read; ``None``: nothing is sealed.
        plaintext: with no keyring, whether an appSecret may be stored in plain text. A
            persistent store refuses it unless told explicitly that plain text is acceptable.
    """

    __slots__ = ("keyring", "plaintext")

    def __init__(self, keyring: Keyring | None, *, plaintext: bool) -> None:
        if keyring is not None and not isinstance(keyring, Keyring):
            raise ValidationError("keyring", type(keyring).__name__, "must be a Keyring or None")
        if type(plaintext) is not bool:
            raise ValidationError("plaintext_secrets", plaintext, "must be True or False")
        self.keyring = keyring
        self.plaintext = plaintext

    def dumps(self, aggregate: AggregateRoot) -> str:
        """The JSON text to store for ``aggregate``, its secrets sealed.

        Raises:
            StorageError: an app's secret with no keyring, and plain text not allowed.
        """
        sealed = _SECRET_FIELDS.get(type(aggregate).__name__)
        if sealed is None:
            return to_json(aggregate, include_secrets=True)
        document = to_dict(aggregate, include_secrets=True)
        data = document["data"]
        kind, fields = sealed
        for field in fields:
            if data.get(field) is not None:
                data[field] = self._seal(data[field], f"{kind}:{aggregate.id}:{field}")
        return dump_document(document)

    def loads(self, text: str, kind: type[A], record: str) -> A:
        """The aggregate stored as ``text``, its secrets opened.

        Raises:
            InvalidRecordError: the document is malformed (naming ``record``).
            StorageError: a sealed secret whose key is not on the keyring, or that does not
                open.
        """
        sealed = _SECRET_FIELDS.get(kind.__name__)
        if sealed is None:
            return from_stored_json(text, kind, record=record)
        document = parse_stored_json(text, record=record)
        data = document.get("data") if isinstance(document, dict) else None
        if isinstance(data, dict):
            name, fields = sealed
            for field in fields:
                value = data.get(field)
                if isinstance(value, str) and is_sealed(value):
                    data[field] = self._open(value, f"{name}:{data.get('id')}:{field}")
        return from_stored_dict(document, kind, record=record)

    def resealed(self, text: str) -> str | None:
        """``text`` with every secret sealed under the current key; ``None``: nothing to do."""
        if self.keyring is None:
            raise ValidationError("keyring", None, "is needed to re-seal secrets")
        document = parse_stored_json(text, record="reseal")
        data = document.get("data") if isinstance(document, dict) else None
        sealed = _SECRET_FIELDS.get(str(document.get("type"))) if isinstance(data, dict) else None
        if sealed is None or not isinstance(data, dict):
            return None
        changed = False
        name, fields = sealed
        for field in fields:
            value = data.get(field)
            current = self.keyring.current
            if not isinstance(value, str) or self.keyring.sealed_with(value) == current:
                continue
            context = f"{name}:{data.get('id')}:{field}"
            plain = self._open(value, context) if is_sealed(value) else value
            data[field] = self.keyring.seal(plain, context=context)
            changed = True
        return dump_document(document) if changed else None

    def _seal(self, plaintext: str, context: str) -> str:
        if self.keyring is not None:
            return self.keyring.seal(plaintext, context=context)
        if self.plaintext:
            return plaintext
        raise StorageError(
            "refusing to store a secret (an appSecret or a seller's token) in plain text: give"
            " the repository a keyring"
            " (Keyring.load(path); 'aliexpress-onboarding keys new PATH' makes one), or"
            " plaintext_secrets=True to accept plain text"
        )

    def _open(self, sealed: str, context: str) -> str:
        if self.keyring is None:
            raise StorageError(
                f"{context}: the secret is sealed (key {self._key_of(sealed)!r}) and this"
                " repository has no keyring: give it the key file's Keyring"
            )
        return self.keyring.open(sealed, context=context)

    @staticmethod
    def _key_of(sealed: str) -> str:
        return sealed[len(SEALED_PREFIX) :].partition(":")[0][:64]


def _bad_file(path: str | os.PathLike[str], why: str) -> NoReturn:
    raise ValidationError("keyring", os.fspath(path), f"is not a key file: {why}")
