"""One strict cattrs converter for every domain type: values, aggregates and events.

Documents look like ``{"schema_version": 1, "type": "App", "data": {...}}``. Reading is
strict where cattrs is lenient by default: wrong types are refused (no ``'false'`` → ``True``,
no ``123`` → ``'123'``), unknown keys and keys given twice are refused, naive datetimes are
refused, and the input's size and nesting are capped before it is parsed, in time linear in
its length. Every problem is reported with its path in one `InvalidRecordError`. Secrets are
left out unless the caller asks for them (``include_secrets=True``; the repositories do).

cattrs is imported on first use only: ``import aliexpress_onboarding`` stays fast.
"""

from __future__ import annotations

import enum
import functools
import json
import operator
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from . import _json
from .domain.account import DeveloperAccount, DeveloperProfile
from .domain.actors import Actor
from .domain.app import App, Store
from .domain.application import DeveloperApplication
from .domain.authorization import StoreAuthorization, authorization_id
from .domain.eligibility import Applicant, EligibilityReport, Problem
from .domain.events import Event
from .domain.machine import SCRATCH
from .domain.oauth import AuthorizationRequest, CallbackUrl
from .domain.tokens import AccessToken, RefreshToken
from .domain.values import AppKey, AppName, AppSecret, CountryCode, DeveloperType, EmailAddress
from .errors import InvalidRecordError, ValidationError, safe_repr

if TYPE_CHECKING:
    from cattrs import Converter

__all__ = [
    "MAX_JSON_BYTES",
    "SCHEMA_VERSION",
    "dump_document",
    "from_dict",
    "from_json",
    "from_stored_dict",
    "from_stored_json",
    "parse_stored_json",
    "split_release_1_app",
    "upgrade_release_1_account",
    "to_dict",
    "to_json",
]

SCHEMA_VERSION: Final = 1
MAX_JSON_BYTES: Final = 1024 * 1024
"""The largest record, in characters of JSON text, that is written or read."""

T = TypeVar("T")


def _event_types() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    pending = [Event]
    while pending:
        for sub in pending.pop().__subclasses__():
            if not vars(sub).get(SCRATCH):  # the engine's own, never a document's type
                found[sub.__name__] = sub
                pending.append(sub)
    return found


@functools.cache
def _document_types() -> dict[str, type[Any]]:
    roots: list[type[Any]] = [
        DeveloperAccount,
        DeveloperApplication,
        App,
        Applicant,
        EligibilityReport,
        Problem,
        Store,
        StoreAuthorization,
        AuthorizationRequest,
        DeveloperProfile,
        Actor,
    ]
    return {**{t.__name__: t for t in roots}, **_event_types()}


# ------------------------------------------------------------------------ strict primitives


def _refuse(value: object, expected: str) -> TypeError:
    return TypeError(f"expected {expected}, got {type(value).__name__}")


def _str(value: object, _: type) -> str:
    if type(value) is not str:
        raise _refuse(value, "a string")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode text (a lone surrogate)") from None
    return value


def _int(value: object, _: type) -> int:
    if type(value) is not int:
        raise _refuse(value, "an integer")
    return value


def _bool(value: object, _: type) -> bool:
    if type(value) is not bool:
        raise _refuse(value, "true or false")
    return value


def _datetime(value: object, _: type) -> datetime:
    if type(value) is not str:
        raise _refuse(value, "an ISO-8601 timestamp with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO-8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is UTC:  # what to_json writes: nothing to convert
        return parsed
    if parsed.tzinfo is None:
        raise ValueError("naive timestamp: an offset such as +00:00 is required")
    try:
        return parsed.astimezone(UTC)  # what the engine stores, and what to_json can write
    except OverflowError:
        raise ValueError("timestamp outside the years 1 to 9999 in UTC") from None


def _unstructure_datetime(value: datetime) -> str:
    return (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat()


_VALUE: Final = operator.attrgetter("value")


def _is_text_enum(type_: Any) -> bool:
    """An enum whose values are all text: its members are written as their value."""
    return (
        isinstance(type_, type)
        and issubclass(type_, enum.Enum)
        and all(type(member.value) is str for member in type_)
    )


def _enum_hook(enum_type: type[enum.Enum]) -> Any:
    def structure(value: object, _: type) -> enum.Enum:
        if type(value) is not str:
            raise _refuse(value, f"one of {[m.value for m in enum_type]}")
        return enum_type(value)

    return structure


def _text_value_hook(value_type: type[Any]) -> Any:
    def structure(value: object, _: type) -> Any:
        if type(value) is not str:
            raise _refuse(value, "a string")
        return value_type(value)

    return structure


def _format(error: BaseException, type_: type | None) -> str:
    if isinstance(error, ValidationError):
        return error.rule
    if isinstance(error, TypeError | ValueError) and error.args:
        return str(error.args[0])
    from cattrs.v import format_exception

    return format_exception(error, type_)


@functools.cache
def _converter(include_secrets: bool, *, detailed: bool = True) -> Converter:
    """The converter; ``detailed=False`` builds the fast one that stops at the first problem.

    Reading tries the fast converter first and, only when it refuses a document, reads it
    again with the detailed one to list every problem with its path: the generated code of a
    detailed converter collects errors field by field, which costs a third of a load.
    """
    from cattrs import Converter
    from cattrs.gen import make_dict_unstructure_fn, override

    converter = Converter(forbid_extra_keys=True, detailed_validation=detailed)
    converter.register_structure_hook(str, _str)
    converter.register_structure_hook(int, _int)
    converter.register_structure_hook(bool, _bool)
    converter.register_structure_hook(datetime, _datetime)
    converter.register_unstructure_hook(datetime, _unstructure_datetime)
    converter.register_structure_hook_factory(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum_hook
    )
    text_values = (AppName, CountryCode, EmailAddress, AppKey, CallbackUrl)
    for value_type in (*text_values, AppSecret, AccessToken, RefreshToken):
        converter.register_structure_hook(value_type, _text_value_hook(value_type))
    for value_type in text_values:  # their text is their value (str() calls __str__ for it)
        converter.register_unstructure_hook(value_type, _VALUE)
    converter.register_unstructure_hook_factory(_is_text_enum, lambda _: _VALUE)
    for secret_type in (AppSecret, AccessToken, RefreshToken):
        converter.register_unstructure_hook(secret_type, secret_type.reveal)
    if not include_secrets:
        converter.register_unstructure_hook(
            App,
            make_dict_unstructure_fn(
                App,
                converter,
                secret=override(omit=True),
                previous_secret=override(omit=True),
            ),
        )
        converter.register_unstructure_hook(
            StoreAuthorization,
            make_dict_unstructure_fn(
                StoreAuthorization,
                converter,
                access_token=override(omit=True),
                refresh_token=override(omit=True),
            ),
        )
    converter.register_structure_hook_func(_is_sequence, _strict_sequence(converter, detailed))
    converter.register_structure_hook_factory(_is_optional, _optional(converter))
    converter.register_unstructure_hook_factory(_is_optional, _unstructure_optional(converter))
    converter.register_structure_hook_factory(attrs.has, _strict_class(converter, detailed))
    return converter


@functools.cache
def _unstructure_hook(include_secrets: bool, type_: type[Any]) -> Any:
    return _converter(include_secrets).get_unstructure_hook(type_)


@functools.cache
def _structure_hook(type_: type[Any]) -> Any:
    """The fast converter's hook for a document type (found once: cattrs' look-up is not free)."""
    return _converter(True, detailed=False).get_structure_hook(type_)


def _strict_class(converter: Converter, detailed: bool) -> Any:
    """Structure hooks for attrs classes that refuse a document missing any field.

    cattrs fills a missing key with the field's default: a stored app read without its
    ``store_limit`` would have served any number of stores. Every field must be written out.
    """
    from cattrs.gen import make_dict_structure_fn

    def factory(cl: type[Any]) -> Any:
        if not detailed:
            return _fast_class(converter, cl)
        base = make_dict_structure_fn(cl, converter)
        fields = {a.name: a.type for a in attrs.fields(cl) if a.init}

        def structure(data: object, _: type) -> Any:
            if type(data) is dict and len(data) < len(fields):  # a key is missing
                missing = [name for name in fields if name not in data]
                if missing:
                    raise _missing_fields(cl, missing, fields)
            return base(data, cl)  # type: ignore[arg-type]  # not a dict: base refuses it

        return structure

    return factory


def _fast_class(converter: Converter, cl: type[Any]) -> Any:
    """The fast converter's hook for an attrs class: exactly its fields, each through its hook.

    A document whose keys are not exactly the class's fields raises at once (the detailed
    converter then says why); otherwise each value goes through its type's hook, resolved once
    here, and the class's constructor validates them, as cattrs' own generated code does.
    cattrs' code read each defaulted field under ``if key in o``, passed them as ``**kwargs``
    and looked for unknown keys with a set difference: a third of a load. The usual value of a
    primitive, a timestamp or an optional field is read inline, saving a call per field.
    """
    attrs.resolve_types(cl)
    fields = [a for a in attrs.fields(cl) if a.init]
    namespace: dict[str, Any] = {
        "cl": cl,
        "names": frozenset(a.name for a in fields),
        "fromisoformat": datetime.fromisoformat,
        "UTC": UTC,
    }
    lines = [
        "def structure(o, _):",
        "    if type(o) is not dict or o.keys() != names:",
        "        raise KeyError(cl.__name__)",  # the detailed converter says which key
    ]
    arguments = []
    for index, field in enumerate(fields):
        value, type_ = f"v{index}", field.type
        optional = _is_optional(type_)
        if optional:
            type_ = type_.__args__[0]
        hook = converter.get_structure_hook(type_)
        namespace[f"hook{index}"], namespace[f"type{index}"] = hook, type_
        read = f"hook{index}({value}, type{index})"
        usual = _USUAL.get(hook)
        if usual is not None:  # the value the hook would return, when it is that simple
            read = f"({usual.format(v=value, n=index)} else {read})"
        if optional:
            read = f"(None if {value} is None else {read})"
        lines.append(f"    {value} = o[{field.name!r}]")
        arguments.append(f"{field.alias}={read}")
    lines.append(f"    return cl({', '.join(arguments)})")
    # Built from the class's own field names (attrs checks they are identifiers).
    exec(compile("\n".join(lines), f"<structure {cl.__qualname__}>", "exec"), namespace)
    return namespace["structure"]


_USUAL: Final[dict[Callable[..., Any], str]] = {
    _str: "{v} if type({v}) is str and {v}.isascii()",
    _int: "{v} if type({v}) is int",
    _bool: "{v} if type({v}) is bool",
    _datetime: "t{n} if type({v}) is str and (t{n} := fromisoformat({v})).tzinfo is UTC",
}
"""What a hook returns in its usual case, and when: ``{v}`` is the value read."""


def _missing_fields(cl: type[Any], missing: list[str], fields: dict[str, Any]) -> Exception:
    from cattrs.errors import AttributeValidationNote, ClassValidationError

    errors = []
    for name in missing:
        error = KeyError(name)  # transform_error: "required field missing"
        error.add_note(
            AttributeValidationNote(
                f"Structuring class {cl.__name__} @ attribute {name}", name, fields[name]
            )
        )
        errors.append(error)
    return ClassValidationError(f"While structuring {cl.__name__}", errors, cl)


def _is_optional(type_: Any) -> bool:
    args = getattr(type_, "__args__", ())
    return typing.get_origin(type_) in (typing.Union, types.UnionType) and args[1:] == (
        types.NoneType,
    )


def _optional(converter: Converter) -> Any:
    """Structure hooks for ``X | None`` that find ``X``'s hook once, not at every value."""

    def factory(type_: Any) -> Any:
        inner = type_.__args__[0]
        hook = converter.get_structure_hook(inner)

        def structure(value: object, _: type) -> Any:
            return None if value is None else hook(value, inner)

        return structure

    return factory


def _unstructure_optional(converter: Converter) -> Any:
    """Unstructure hooks for ``X | None``: cattrs', but none at all when ``X`` needs none.

    cattrs' generated code writes a field whose hook is the identity inline: so are fields of
    ``str | None`` and ``int | None`` now, which need no call either.
    """
    from cattrs.fns import identity

    def factory(type_: Any) -> Any:
        inner = converter.get_unstructure_hook(type_.__args__[0])
        return identity if inner == identity else converter.gen_unstructure_optional(type_)

    return factory


def _is_sequence(type_: Any) -> bool:
    origin = getattr(type_, "__origin__", None)
    return origin in (tuple, list)


def _strict_sequence(converter: Converter, detailed: bool) -> Any:
    def structure(value: object, type_: Any) -> Any:
        if type(value) is not list:
            raise _refuse(value, "a list")
        item_type = type_.__args__[0]
        if not detailed:
            items = [converter.structure(item, item_type) for item in value]
            return tuple(items) if type_.__origin__ is tuple else items
        from cattrs.errors import IterableValidationError, IterableValidationNote

        items = []
        errors = []
        for index, item in enumerate(value):
            try:
                items.append(converter.structure(item, item_type))
            except Exception as error:
                # cattrs' own note, so transform_error can name the item: $.data.list[1].field
                error.add_note(IterableValidationNote(f"Structuring @ [{index}]", index, item_type))
                errors.append(error)
        if errors:
            raise IterableValidationError("while structuring a list", errors, type_)
        return tuple(items) if type_.__origin__ is tuple else items

    return structure


# ------------------------------------------------------------------------ public functions


def to_dict(obj: object, *, include_secrets: bool = False) -> dict[str, Any]:
    """Turn a domain object into a JSON-ready document.

    Args:
        obj: an aggregate, an event, an applicant, a report...
        include_secrets: include appSecrets (for storage only; never for logs or APIs).

    Returns:
        ``{"schema_version": 1, "type": <class name>, "data": {...}}``.

    Raises:
        InvalidRecordError: ``obj`` is not a serialisable domain type.
    """
    name = type(obj).__name__
    if _document_types().get(name) is not type(obj):
        raise InvalidRecordError("$", name, [f"$: {name} is not a serialisable domain type"])
    # (mypy takes a class's __hash__ for its instances': a class is hashable)
    data = _unstructure_hook(include_secrets, type(obj))(obj)  # type: ignore[arg-type]
    return {"schema_version": SCHEMA_VERSION, "type": name, "data": data}


def from_dict(document: object, expected: type[T] | None = None) -> T:
    """Rebuild a domain object from `to_dict`'s document, strictly.

    Args:
        document: the document.
        expected: the class the caller wants, or a base class of it (`Event` takes every
            event); a document of any other type is refused.

    Raises:
        InvalidRecordError: listing every problem with its path, e.g.
            ``$.data.profile.email: not a valid e-mail address``.
    """
    if not isinstance(document, dict):
        raise InvalidRecordError("$", type(document).__name__, ["$: expected an object"])
    version, name = document.get("schema_version"), document.get("type")
    data = document.get("data")
    target = _document_types().get(name) if type(name) is str else None
    if (  # the three keys, and nothing else, all as they should be: the usual document
        len(document) == 3
        and type(version) is int
        and version == SCHEMA_VERSION
        and target is not None
        and (expected is None or issubclass(target, expected))
        and isinstance(data, dict)
    ):
        return _structure(data, target)  # type: ignore[no-any-return]
    problems = []
    # In the document's order: sorting would refuse keys of mixed types (1 and "a").
    extra = [key for key in document if key not in {"schema_version", "type", "data"}]
    if extra:
        problems.append(f"$: unknown keys {safe_repr(extra)}")
    if type(version) is not int:
        problems.append("$.schema_version: required, an integer")
    elif version != SCHEMA_VERSION:
        problems.append(
            f"$.schema_version: {safe_repr(version)} is not supported"
            f" (this library reads {SCHEMA_VERSION})"
        )
    if target is None:
        problems.append(f"$.type: unknown type {safe_repr(name)}")
    elif expected is not None and not issubclass(target, expected):
        problems.append(f"$.type: expected {expected.__name__}, got {name}")
    if "data" not in document:
        problems.append("$.data: required field missing")
    elif not isinstance(data, dict):
        problems.append("$.data: expected an object")
    raise InvalidRecordError("$", name, problems)


def _structure(data: object, target: type[Any]) -> Any:
    try:
        return _structure_hook(target)(data, target)  # type: ignore[arg-type]  # (a class: hashable)
    except Exception:  # refused: read it again below, to say why and where
        pass
    from cattrs.errors import BaseValidationError
    from cattrs.v import transform_error

    try:
        return _converter(True).structure(data, target)
    except BaseValidationError as error:
        _name_refused_fields(error)
        problems = [
            f"{path}: {message}"
            for message, _, path in (
                line.rpartition(" @ ")
                for line in transform_error(error, path="$.data", format_exception=_format)
            )
        ]
        raise InvalidRecordError("$.data", target.__name__, problems) from None
    except ValidationError as error:
        raise InvalidRecordError("$.data", target.__name__, [f"$.data: {error}"]) from None
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise InvalidRecordError("$.data", target.__name__, [f"$.data: {error}"]) from None


def _name_refused_fields(error: Exception) -> None:
    """Give a field validator's refusal the path of its field.

    cattrs notes the attribute of an error raised while structuring that attribute, but a
    validator runs afterwards, in ``__init__``, so its error would be reported at the object's
    path. Our validators raise `ValidationError` naming the field: note it the way cattrs does.
    """
    from cattrs.errors import AttributeValidationNote, BaseValidationError

    if not isinstance(error, BaseValidationError):
        return
    fields = (
        {field.name: field.type for field in attrs.fields(error.cl)} if attrs.has(error.cl) else {}
    )
    for inner in error.exceptions:
        notes = getattr(inner, "__notes__", [])
        if isinstance(inner, ValidationError) and inner.field in fields and not notes:
            note = f"Structuring class {error.cl.__name__} @ attribute {inner.field}"
            inner.add_note(AttributeValidationNote(note, inner.field, fields[inner.field]))
        _name_refused_fields(inner)


def to_json(obj: object, *, include_secrets: bool = False) -> str:
    """`to_dict` as compact JSON text (UTF-8 safe, keys in a stable order).

    Raises:
        InvalidRecordError: ``obj`` is not a serialisable domain type, or its text would be
            larger than `from_json` reads (`MAX_JSON_BYTES` characters): what is written can
            always be read back.
    """
    return dump_document(to_dict(obj, include_secrets=include_secrets))


def dump_document(document: dict[str, Any]) -> str:
    """A document as compact JSON text, refused if `from_json` could not read it back.

    Raises:
        InvalidRecordError: the text would be larger than `MAX_JSON_BYTES` characters (the
            error gives its size and the cap).
    """
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_JSON_BYTES:
        raise InvalidRecordError("$", len(text), [_too_large(len(text))])
    return text


def _too_large(size: int) -> str:
    return f"$: {size} characters, more than the {MAX_JSON_BYTES} a record may have"


def from_json(text: str | bytes, expected: type[T] | None = None) -> T:
    """Parse JSON produced by `to_json`; size and nesting are capped before parsing.

    Any text costs time linear in its length. A key given twice in one object is refused
    (never last-wins), as is an integer longer than Python reads.

    Raises:
        InvalidRecordError: too large, too deep, not JSON, a duplicate key, or any problem
            `from_dict` finds.
    """
    return from_dict(_parse(text), expected)


def _parse(text: str | bytes) -> Any:
    """JSON text to Python values, capped in size and nesting, linear in the text."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRecordError("$", None, ["$: not UTF-8 text"]) from None
    if not isinstance(text, str):
        raise InvalidRecordError("$", type(text).__name__, ["$: expected JSON text"])
    if len(text) > MAX_JSON_BYTES:
        raise InvalidRecordError("$", len(text), [_too_large(len(text))])
    try:
        return _json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidRecordError("$", None, [f"$: not valid JSON ({error})"]) from None
    except ValueError as error:
        raise InvalidRecordError("$", None, [f"$: {error}"]) from None


def from_stored_json(text: str | bytes, expected: type[T] | None = None, *, record: str) -> T:
    """`from_json` for a stored row; an error names the record (``"app:app-1"``, ``"outbox:7"``).

    Raises:
        InvalidRecordError: as `from_json`, with ``.field`` set to ``record``.
    """
    try:
        return from_json(text, expected)
    except InvalidRecordError as error:
        raise InvalidRecordError(record, record, error.problems) from None


def parse_stored_json(text: str | bytes, *, record: str) -> Any:
    """A stored row's JSON document, parsed as `from_json` does but not yet read as a type.

    For a repository that must change a field before the strict read (opening a sealed
    secret); `from_stored_dict` then reads it.

    Raises:
        InvalidRecordError: too large, too deep, not JSON or a duplicate key (names ``record``).
    """
    try:
        return _parse(text)
    except InvalidRecordError as error:
        raise InvalidRecordError(record, record, error.problems) from None


def from_stored_dict(document: object, expected: type[T], *, record: str) -> T:
    """`from_dict` for a stored row's parsed document; an error names the record.

    Raises:
        InvalidRecordError: as `from_dict`, with ``.field`` set to ``record``.
    """
    try:
        return from_dict(document, expected)
    except InvalidRecordError as error:
        raise InvalidRecordError(record, record, error.problems) from None


def split_release_1_app(document: object) -> tuple[dict[str, Any], list[StoreAuthorization]]:
    """An app document stored by release 1, as today's app document and its authorizations.

    Release 1 kept a Self app's ``store_limit`` and its store authorizations inside the app's
    document. Today each authorization is a `StoreAuthorization` record of its own, and a Self
    app's bound is its account's. Repositories call this when they migrate a stored app; the
    secrets in the document (sealed or not) are passed through untouched. A document without
    those fields comes back as it is, with no authorizations.

    Returns:
        The app's document without ``store_limit`` and ``authorizations`` (and with no
        ``callback_url`` registered yet, a field added since), and one active
        `StoreAuthorization` per listed store (authorized when the list says, counted under
        the app's old ``store_limit``).

    Raises:
        InvalidRecordError: the document is not an app document, or a listed authorization
            is malformed (names its path).
    """
    if not isinstance(document, dict) or document.get("type") != "App":
        raise InvalidRecordError("$", None, ["$: expected an App document"])
    data = document.get("data")
    if not isinstance(data, dict):
        raise InvalidRecordError("$", None, ["$.data: expected an object"])
    kept = {key: value for key, value in data.items() if key not in _RELEASE_1_APP_FIELDS}
    kept.setdefault("callback_url", None)  # registered since: none yet
    listed = data.get("authorizations", [])
    if not isinstance(listed, list):
        raise InvalidRecordError("$", None, ["$.data.authorizations: expected an array"])
    limit = data.get("store_limit")
    authorizations = []
    for index, entry in enumerate(listed):
        path = f"$.data.authorizations[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"store", "authorized_at"}:
            raise InvalidRecordError(path, None, [f"{path}: expected store and authorized_at"])
        try:
            store: Store = from_dict(
                {"schema_version": 1, "type": "Store", "data": entry["store"]}, Store
            )
            at = _datetime(entry["authorized_at"], datetime)
            authorizations.append(
                StoreAuthorization(
                    id=authorization_id(data["id"], store.store_id),
                    app_id=data["id"],
                    account_id=data["account_id"],
                    app_owner_id=data["owner_id"],
                    developer_type=DeveloperType.parse(data["developer_type"]),
                    store=store,
                    authorized_at=at,
                    created_at=at,
                    updated_at=at,
                    store_limit=limit,
                )
            )
        except (InvalidRecordError, ValidationError, TypeError, KeyError) as error:
            raise InvalidRecordError(path, None, [f"{path}: {error}"]) from None
    return {**document, "data": kept}, authorizations


_RELEASE_1_APP_FIELDS: Final = frozenset({"store_limit", "authorizations"})


def upgrade_release_1_account(document: object) -> dict[str, Any]:
    """An account document stored by release 1, as today's: its seller-set count dropped.

    Release 1 let the seller set its own ``verified_store_count`` at registration. Today only
    a reviewer or the system records the enterprise and its store count (`VerifyEnterprise`),
    so the seller's figure is not carried over: the account has no ``verification`` until a
    reviewer records one, and its Self apps take no new store before then (their current
    authorizations stay). A document without the field comes back as it is.

    Raises:
        InvalidRecordError: the document is not an account document.
    """
    if not isinstance(document, dict) or document.get("type") != "DeveloperAccount":
        raise InvalidRecordError("$", None, ["$: expected a DeveloperAccount document"])
    data = document.get("data")
    if not isinstance(data, dict):
        raise InvalidRecordError("$", None, ["$.data: expected an object"])
    kept = {key: value for key, value in data.items() if key != "verified_store_count"}
    kept.setdefault("verification", None)
    return {**document, "data": kept}
