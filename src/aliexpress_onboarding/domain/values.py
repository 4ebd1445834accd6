"""Value objects: immutable, hashable, validated on construction; ``str()`` is the canonical text.

Every constructor refuses bad input with a `ValidationError` subclass that names the field and
the rule. Costly helpers (email-validator) are imported on first use only.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, NoReturn, Self

import attrs

from .._iso3166 import ASSIGNED_ALPHA2
from ..errors import (
    InvalidAppNameError,
    InvalidCountryCodeError,
    InvalidCredentialError,
    InvalidDateTimeError,
    InvalidDeveloperTypeError,
    InvalidDocumentError,
    InvalidEmailError,
    InvalidPolicyError,
    InvalidRegistrationNumberError,
    SecretExposureError,
    ValidationError,
)

__all__ = [
    "AppKey",
    "AppName",
    "AppSecret",
    "CountryCode",
    "DeveloperType",
    "DocumentKind",
    "DocumentPolicy",
    "EmailAddress",
    "LicenseDocument",
    "MediaType",
]

# --------------------------------------------------------------------------- plain text


def check_text(field: str, value: object, *, max_length: int = 200) -> str:
    """Return ``value`` if it is 1 to ``max_length`` printable characters, else refuse it.

    Raises:
        ValidationError: naming ``field``.
    """
    if not isinstance(value, str) or not 1 <= len(value) <= max_length or not value.isprintable():
        raise ValidationError(field, value, _text_rule(max_length))
    return value


def _text_rule(max_length: int) -> str:
    return f"must be 1 to {max_length} printable characters"


def text_field(max_length: int = 200) -> Any:
    """An attrs validator for a field of 1 to ``max_length`` printable characters."""

    def validate(_: object, attribute: attrs.Attribute[str], value: object) -> None:
        # `check_text`, inline: commands are built on every call of the service
        if (
            not isinstance(value, str)
            or not 1 <= len(value) <= max_length
            or not value.isprintable()
        ):
            raise ValidationError(attribute.name, value, _text_rule(max_length))

    return validate


def optional_text(max_length: int = 200) -> Any:
    """An attrs validator for ``None`` or 1 to ``max_length`` printable characters."""

    def validate(_: object, attribute: attrs.Attribute[str | None], value: object) -> None:
        if value is not None:
            check_text(attribute.name, value, max_length=max_length)

    return validate


# --------------------------------------------------------------------------- timestamps, versions


def require_aware(field: str, value: object) -> datetime:
    """Return ``value``, a timezone-aware datetime, as the same instant in UTC.

    Everything the engine stores is in UTC: Python compares datetimes of different zones as
    unequal when one falls in a repeated (DST fold) hour, so a stored and a reloaded aggregate
    could differ if their zones did.

    Raises:
        InvalidDateTimeError: for naive datetimes and anything that is not a datetime.
    """
    if not isinstance(value, datetime):
        raise InvalidDateTimeError(field, value, "must be a timezone-aware datetime")
    if value.tzinfo is UTC:
        return value  # already what we store: the common case, and the cheapest
    try:
        offset = value.utcoffset()
    except (ValueError, TypeError, ArithmeticError) as error:
        raise InvalidDateTimeError(field, value, f"has an unusable time zone: {error}") from None
    if offset is None:
        raise InvalidDateTimeError(field, value, "must be timezone-aware, not naive")
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidDateTimeError(field, value, "is outside the years 1 to 9999 in UTC") from None


def aware(_: object, attribute: attrs.Attribute[datetime], value: object) -> None:
    """An attrs validator: the field holds a timezone-aware datetime (see `require_aware`)."""
    if type(value) is not datetime or value.tzinfo is not UTC:  # the usual value needs no call
        require_aware(attribute.name, value)


def optional_aware(_: object, attribute: attrs.Attribute[datetime | None], value: object) -> None:
    """An attrs validator: the field holds ``None`` or a timezone-aware datetime."""
    if value is not None and (type(value) is not datetime or value.tzinfo is not UTC):
        require_aware(attribute.name, value)


def version(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    """An attrs validator: a version (an aggregate's, or the one an event produced) is >= 1."""
    if type(value) is not int or value < 1:
        raise ValidationError(attribute.name, value, "must be a whole number from 1")


# --------------------------------------------------------------------------- app names

APP_NAME_MAX_LENGTH: Final = 30
_APP_NAME_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"
)
_APP_NAME_RULE: Final = (
    "an app name has 1 to 30 characters, each an ASCII letter, an ASCII digit, '.' or '_'"
)


def _check_app_name(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidAppNameError(value, f"must be text; {_APP_NAME_RULE}")
    if not value:
        raise InvalidAppNameError(value, f"must not be empty; {_APP_NAME_RULE}")
    if len(value) > APP_NAME_MAX_LENGTH:
        raise InvalidAppNameError(
            value, f"has {len(value)} characters, at most 30 are allowed; {_APP_NAME_RULE}"
        )
    for position, character in enumerate(value):
        if character not in _APP_NAME_CHARS:
            raise InvalidAppNameError(
                value,
                f"character {character!r} at position {position} is not allowed; {_APP_NAME_RULE}",
                position=position,
                character=character,
            )


@attrs.frozen
class AppName:
    """The name of an app on the AliExpress Open Platform.

    1 to 30 characters, each an ASCII letter, an ASCII digit, ``.`` or ``_``. Nothing is
    trimmed or normalised: ``" shop"`` is refused, not cleaned.

    Raises:
        InvalidAppNameError: with ``.position`` and ``.character`` of the first refused
            character, when there is one.
    """

    value: str = attrs.field(validator=_check_app_name)

    def __str__(self) -> str:
        return self.value


# --------------------------------------------------------------------------- developer types

_SEPARATORS: Final = re.compile(r"[ \t_\-]+")


class DeveloperType(enum.Enum):
    """The two kinds of developer the platform knows.

    ``SELF``: a seller enterprise developing for its own store(s). ``COMMERCIAL``: an
    independent software vendor (ISV) developing for other sellers.
    """

    SELF = "self"
    COMMERCIAL = "commercial"

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        """The platform's wording, ``"Self developer"`` or ``"Commercial developer"``."""
        return "Self developer" if self is DeveloperType.SELF else "Commercial developer"

    @classmethod
    def parse(cls, text: object) -> DeveloperType:
        """Read a developer type from the ways people write it.

        Accepts (ASCII, any case, spaces/hyphens/underscores alike) ``"self"``, ``"Self
        developer"``, ``"self-developed developer"``, ``"commercial"``, ``"Commercial
        developer"``, ``"ISV"``, ``"independent software vendor"``, or a `DeveloperType`.

        Raises:
            InvalidDeveloperTypeError: for anything else.
        """
        if isinstance(text, DeveloperType):
            return text
        rule = "expected 'self', 'Self developer', 'commercial', 'Commercial developer' or 'ISV'"
        # ASCII first: lower() and casefold() map some non-ASCII look-alikes onto ASCII letters.
        if not isinstance(text, str) or not text.isascii():
            raise InvalidDeveloperTypeError("developer_type", text, rule)
        key = _SEPARATORS.sub(" ", text.lower()).strip()
        try:
            return _DEVELOPER_TYPE_ALIASES[key]
        except KeyError:
            raise InvalidDeveloperTypeError("developer_type", text, rule) from None


_DEVELOPER_TYPE_ALIASES: Final = {
    "self": DeveloperType.SELF,
    "self developer": DeveloperType.SELF,
    "self developed": DeveloperType.SELF,
    "self developed developer": DeveloperType.SELF,
    "commercial": DeveloperType.COMMERCIAL,
    "commercial developer": DeveloperType.COMMERCIAL,
    "commercial software developer": DeveloperType.COMMERCIAL,
    "isv": DeveloperType.COMMERCIAL,
    "independent software vendor": DeveloperType.COMMERCIAL,
}

# --------------------------------------------------------------------------- countries

_ALPHA2: Final = re.compile(r"[A-Za-z]{2}")


def _to_country_code(value: object) -> str:
    rule = "an assigned ISO 3166-1 alpha-2 code such as 'CN' or 'ES'"
    if isinstance(value, CountryCode):
        return value.value
    if not isinstance(value, str) or not _ALPHA2.fullmatch(value):
        raise InvalidCountryCodeError("country", value, f"must be {rule}")
    code = value.upper()
    if code not in ASSIGNED_ALPHA2:
        raise InvalidCountryCodeError("country", value, f"is not {rule}")
    return code


@attrs.frozen
class CountryCode:
    """An assigned ISO 3166-1 alpha-2 country code; lower case is accepted and upper-cased.

    Raises:
        InvalidCountryCodeError: for anything but the 249 assigned codes.
    """

    value: str = attrs.field(converter=_to_country_code)

    def __str__(self) -> str:
        return self.value


SPAIN: Final = CountryCode("ES")
CHINA: Final = CountryCode("CN")

# --------------------------------------------------------------------------- e-mail

_EMAIL_MAX_LENGTH: Final = 320


def _normalise_email(value: object, *, check_deliverability: bool = False) -> str:
    if isinstance(value, EmailAddress):
        return value.value
    if not isinstance(value, str):
        raise InvalidEmailError("email", value, "must be text")
    if len(value) > _EMAIL_MAX_LENGTH:
        raise InvalidEmailError("email", value, "must have at most 320 characters")
    if check_deliverability:
        return _validate_email(value, check_deliverability=True)
    return _validate_offline(str(value))


@functools.lru_cache(maxsize=4096)
def _validate_offline(value: str) -> str:
    # Syntax checks are a pure function of the text; stored rows repeat the same few addresses,
    # and email-validator costs ~50 µs a call.
    return _validate_email(value, check_deliverability=False)


def _validate_email(value: str, *, check_deliverability: bool) -> str:
    import email_validator  # costly (~45 ms): only here

    try:
        # Every option is passed: the module's globals would otherwise change them process-wide.
        result = email_validator.validate_email(
            value,
            check_deliverability=check_deliverability,
            allow_smtputf8=True,
            allow_empty_local=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            globally_deliverable=True,
            test_environment=False,
        )
    except email_validator.EmailNotValidError as error:
        raise InvalidEmailError("email", value, f"not a valid e-mail address: {error}") from None
    return str(result.normalized)


@attrs.frozen
class EmailAddress:
    """A syntactically valid e-mail address, kept in its normalised form.

    Construction never touches the network. Use `EmailAddress.parse` with
    ``check_deliverability=True`` to also look up the domain's mail servers.

    Raises:
        InvalidEmailError: when the address is not valid.
    """

    value: str = attrs.field(converter=_normalise_email)

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: object, *, check_deliverability: bool = False) -> EmailAddress:
        """Validate ``text``, optionally asking DNS whether the domain accepts mail.

        Raises:
            InvalidEmailError: when the address is not valid (or, when asked, not deliverable).
        """
        return cls(_normalise_email(text, check_deliverability=check_deliverability))


# --------------------------------------------------------------------------- documents


class DocumentKind(enum.Enum):
    """What an uploaded document is: a business licence, or Spain's CIF in its place."""

    BUSINESS_LICENSE = "business_license"
    CIF = "cif"

    def __str__(self) -> str:
        return self.value

    @property
    def label(self) -> str:
        """How people name it: ``"business licence"`` or ``"CIF"``."""
        return "business licence" if self is DocumentKind.BUSINESS_LICENSE else "CIF"


class MediaType(enum.Enum):
    """The file types a licence may be uploaded as, recognised from their first bytes."""

    JPEG = "image/jpeg"
    PNG = "image/png"
    PDF = "application/pdf"

    def __str__(self) -> str:
        return self.value

    @property
    def extensions(self) -> frozenset[str]:
        """The lower-case file-name extensions that agree with this type."""
        return _EXTENSIONS[self]


_EXTENSIONS: Final = {
    MediaType.JPEG: frozenset({".jpg", ".jpeg", ".jpe"}),
    MediaType.PNG: frozenset({".png"}),
    MediaType.PDF: frozenset({".pdf"}),
}
_MAGIC: Final = (
    (b"\xff\xd8\xff", MediaType.JPEG),
    (b"\x89PNG\r\n\x1a\n", MediaType.PNG),
    (b"%PDF-", MediaType.PDF),
)
MIB: Final = 1024 * 1024


def _sniff(data: bytes) -> MediaType | None:
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    return None


def _check_allowed_types(_: object, __: object, value: Any) -> None:
    if (
        not isinstance(value, frozenset)
        or not value
        or not all(isinstance(v, MediaType) for v in value)
    ):
        raise InvalidPolicyError(
            "allowed_types", value, "must be a non-empty frozenset of MediaType"
        )


def _check_max_bytes(_: object, __: object, value: Any) -> None:
    if type(value) is not int or value < 1:
        raise InvalidPolicyError("max_bytes", value, "must be a positive whole number of bytes")


@attrs.frozen
class DocumentPolicy:
    """Which uploads are accepted. The default is the platform's form: JPEG or PNG, ≤ 2 MiB.

    Args:
        allowed_types: the accepted `MediaType` values (add ``MediaType.PDF`` to allow PDF).
        max_bytes: the largest accepted file, in bytes.
    """

    allowed_types: frozenset[MediaType] = attrs.field(
        default=frozenset({MediaType.JPEG, MediaType.PNG}), validator=_check_allowed_types
    )
    max_bytes: int = attrs.field(default=2 * MIB, validator=_check_max_bytes)


_FILENAME_MAX_LENGTH: Final = 255
_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


def _base_name(filename: object) -> str:
    """The file name without any directory part (either slash), or an error."""
    if not isinstance(filename, str):
        raise InvalidDocumentError("filename", filename, "must be text")
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if name in {"", ".", ".."}:
        raise InvalidDocumentError("filename", filename, "must name a file")
    if len(name) > _FILENAME_MAX_LENGTH or not name.isprintable():
        raise InvalidDocumentError(
            "filename", filename, "must have at most 255 printable characters"
        )
    return name


def _extension(name: str) -> str | None:
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem else None


# Registration numbers ------------------------------------------------------------

_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
_CIF: Final = re.compile(r"[ABCDEFGHJNPQRSUVW][0-9]{7}[0-9A-J]")
_CIF_LETTER_ONLY: Final = frozenset("NPQRSW")
_CIF_DIGIT_ONLY: Final = frozenset("ABEH")


def uscc_check_character(first17: str) -> str:
    """The check character of a Chinese unified social credit code (GB 32100-2015, mod 31)."""
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def cif_control(first8: str) -> tuple[str, str]:
    """The control digit and control letter of a Spanish CIF's first eight characters."""
    digits = first8[1:]
    even = sum(int(d) for d in digits[1::2])
    odd = sum(sum(divmod(int(d) * 2, 10)) for d in digits[0::2])
    control = (10 - (even + odd) % 10) % 10
    return str(control), "JABCDEFGHI"[control]


def _check_uscc(number: str) -> None:
    rule = "a unified social credit code has 18 characters (digits and A-Y without I, O, S, V, Z)"
    if not _USCC.fullmatch(number):
        raise InvalidRegistrationNumberError("registration_number", number, rule)
    expected = uscc_check_character(number[:17])
    if number[17] != expected:
        raise InvalidRegistrationNumberError(
            "registration_number", number, f"check character should be {expected!r}"
        )


def _check_cif(number: str) -> None:
    rule = "a CIF is a letter, 7 digits and a control digit or letter, e.g. 'B12345674'"
    if not _CIF.fullmatch(number):
        raise InvalidRegistrationNumberError("registration_number", number, rule)
    digit, letter = cif_control(number[:8])
    first, last = number[0], number[8]
    if first in _CIF_LETTER_ONLY:
        allowed = {letter}
    elif first in _CIF_DIGIT_ONLY:
        allowed = {digit}
    else:
        allowed = {digit, letter}
    if last not in allowed:
        wanted = " or ".join(repr(a) for a in sorted(allowed))
        raise InvalidRegistrationNumberError(
            "registration_number", number, f"control character should be {wanted}"
        )


def _check_other_registration(number: str) -> None:
    if not 1 <= len(number) <= 64 or not number.isprintable():
        raise InvalidRegistrationNumberError(
            "registration_number", number, "must have 1 to 64 printable characters"
        )


def _registration_checker(kind: DocumentKind, country: CountryCode | None) -> Callable[[str], None]:
    if kind is DocumentKind.CIF or country == SPAIN:
        return _check_cif
    if country == CHINA:
        return _check_uscc
    return _check_other_registration


def _optional_country(value: object) -> CountryCode | None:
    return None if value is None else CountryCode(value)


def _check_kind(_: object, __: object, value: Any) -> None:
    if not isinstance(value, DocumentKind):
        raise InvalidDocumentError("kind", value, "must be a DocumentKind")


def _check_filename(_: object, __: object, value: Any) -> None:
    if _base_name(value) != value:
        raise InvalidDocumentError("filename", value, "must have no directory part")


def _check_media_type(_: object, __: object, value: Any) -> None:
    if not isinstance(value, MediaType):
        raise InvalidDocumentError("media_type", value, "must be a MediaType")


def _check_size(_: object, __: object, value: Any) -> None:
    if type(value) is not int or value < 1:
        raise InvalidDocumentError("size", value, "must be a positive whole number of bytes")


def _check_sha256(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise InvalidDocumentError("sha256", value, "must be 64 lower-case hexadecimal digits")


def _check_registration_type(_: object, __: object, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidRegistrationNumberError("registration_number", value, "must be text or None")


def _check_policy(policy: object) -> None:
    if not isinstance(policy, DocumentPolicy):
        raise InvalidPolicyError("policy", policy, "must be a DocumentPolicy")


def _path_text(path: object) -> str:
    """``path`` as text, or an error; never an int, which open() would take for a descriptor."""
    name = os.fspath(path) if isinstance(path, str | os.PathLike) else None
    if not isinstance(name, str):  # None, or the bytes of an os.PathLike[bytes]
        raise InvalidDocumentError("path", path, "must be a file path: text or an os.PathLike")
    if "\0" in name:
        raise InvalidDocumentError("path", name, "must not contain a NUL character")
    return name


@attrs.frozen
class LicenseDocument:
    """An uploaded business licence (or CIF), described by what its content is.

    The bytes themselves are not kept: the embedding system stores the file; this value records
    what was checked and the SHA-256 digest that ties the record to the file. Build it with
    `LicenseDocument.from_bytes` or `LicenseDocument.from_path`.

    Attributes:
        kind: business licence or CIF.
        filename: the file name, without any directory part.
        media_type: the type sniffed from the content.
        size: the size in bytes.
        sha256: the hex SHA-256 digest of the content.
        country: where the licence was issued, when known; it decides the registration format.
        registration_number: verified for China (unified social credit code) and Spain (CIF),
            kept as given (1 to 64 printable characters) otherwise.
    """

    kind: DocumentKind = attrs.field(validator=_check_kind)
    filename: str = attrs.field(validator=_check_filename)
    media_type: MediaType = attrs.field(validator=_check_media_type)
    size: int = attrs.field(validator=_check_size)
    sha256: str = attrs.field(validator=_check_sha256)
    country: CountryCode | None = attrs.field(default=None, converter=_optional_country)
    registration_number: str | None = attrs.field(default=None, validator=_check_registration_type)

    def __attrs_post_init__(self) -> None:
        ext = _extension(self.filename)
        if ext is not None and ext not in self.media_type.extensions:
            raise InvalidDocumentError(
                "filename",
                self.filename,
                f"extension {ext!r} contradicts the content, which is {self.media_type}",
            )
        if self.registration_number is not None:
            _registration_checker(self.kind, self.country)(self.registration_number)

    def __str__(self) -> str:
        return f"{self.kind.label} {self.filename} ({self.media_type}, {self.size} bytes)"

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        filename: str,
        kind: DocumentKind = DocumentKind.BUSINESS_LICENSE,
        country: CountryCode | str | None = None,
        registration_number: str | None = None,
        policy: DocumentPolicy = DocumentPolicy(),
    ) -> LicenseDocument:
        """Check an upload's content and describe it.

        The type is sniffed from the first bytes, never taken from the name. Empty files,
        files over ``policy.max_bytes``, types the policy does not allow and names whose
        extension contradicts the content are refused.

        Raises:
            InvalidDocumentError: the file was refused (``.field`` says which part).
            InvalidRegistrationNumberError: the registration number failed its check.
            InvalidCountryCodeError: ``country`` is not an assigned code.
        """
        _check_policy(policy)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidDocumentError("data", type(data).__name__, "must be bytes")
        data = bytes(data)
        name = _base_name(filename)
        if not data:
            raise InvalidDocumentError("data", 0, "the file is empty")
        if len(data) > policy.max_bytes:
            raise InvalidDocumentError(
                "data", len(data), f"the file is larger than {policy.max_bytes} bytes"
            )
        media_type = _sniff(data)
        if media_type is None or media_type not in policy.allowed_types:
            allowed = ", ".join(sorted(m.name for m in policy.allowed_types))
            raise InvalidDocumentError(
                "data",
                media_type.name if media_type else "unknown",
                f"the content must be one of: {allowed}",
            )
        return cls(
            kind=kind,
            filename=name,
            media_type=media_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            country=country,
            registration_number=registration_number,
        )

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        kind: DocumentKind = DocumentKind.BUSINESS_LICENSE,
        country: CountryCode | str | None = None,
        registration_number: str | None = None,
        policy: DocumentPolicy = DocumentPolicy(),
    ) -> LicenseDocument:
        """Read a file (at most ``policy.max_bytes`` + 1 bytes of it) and check it.

        Raises:
            InvalidDocumentError: as `from_bytes`; when ``path`` is not a path (text or an
                ``os.PathLike`` of text, without NUL), or when the file cannot be read.
            InvalidPolicyError: ``policy`` is not a `DocumentPolicy`.
        """
        _check_policy(policy)  # before the file is opened: its max_bytes says how much to read
        name = _path_text(path)
        try:
            with open(name, "rb") as file:
                data = file.read(policy.max_bytes + 1)
        except OSError as error:
            raise InvalidDocumentError("path", name, f"cannot be read: {error}") from None
        return cls.from_bytes(
            data,
            filename=os.path.basename(name),
            kind=kind,
            country=country,
            registration_number=registration_number,
            policy=policy,
        )


# --------------------------------------------------------------------------- credentials

_APP_KEY: Final = re.compile(r"[A-Za-z0-9]{1,64}")
_SECRET: Final = re.compile(r"[!-~]{16,256}")
REDACTED: Final = "********"


def _check_app_key(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str) or not _APP_KEY.fullmatch(value):
        raise InvalidCredentialError("app_key", value, "must be 1 to 64 ASCII letters or digits")


@attrs.frozen
class AppKey:
    """The public identifier the console shows for an app (not a secret)."""

    value: str = attrs.field(validator=_check_app_key)

    def __str__(self) -> str:
        return self.value


def _check_secret(_: object, __: object, value: Any) -> None:
    if not isinstance(value, str) or not _SECRET.fullmatch(value):
        raise InvalidCredentialError(
            "app_secret",
            value,
            "must be 16 to 256 visible ASCII characters",
            secret=True,
        )


class Secret:
    """A value that never shows itself: the base of `AppSecret` and the platform's tokens.

    ``repr``, ``str``, ``format`` and errors print a mask; compare with `matches` (constant
    time); read the value only with `reveal`. Immutable, equal only to a secret of the same
    class, and refuses to be pickled (a pickle is plain bytes that end up in caches, queues and
    files): pickling raises `SecretExposureError`. Deliberately not an attrs class, so that
    ``attrs.asdict`` keeps the (masked) object instead of walking into it.
    """

    __slots__ = ("__weakref__", "_value")
    _value: str

    def __init__(self, value: str) -> None:
        self._validate(value)
        object.__setattr__(self, "_value", value)

    @classmethod
    def _validate(cls, value: object) -> None:
        """Raise a `ValidationError` (never showing ``value``) unless it is a valid secret."""
        raise NotImplementedError

    def __setattr__(self, name: str, value: object) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __copy__(self) -> Self:
        return self  # immutable: a copy is the same value

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self

    def __reduce__(self) -> NoReturn:
        raise SecretExposureError(
            f"{type(self).__name__} cannot be pickled: it would be written out in the clear"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{REDACTED}')"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return format(REDACTED, spec)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.matches(other)

    def __hash__(self) -> int:
        return hash((type(self), self._value))

    def matches(self, candidate: Self | str) -> bool:
        """Whether ``candidate`` is this secret (or its value), compared in constant time."""
        other = candidate._value if isinstance(candidate, type(self)) else candidate
        if not isinstance(other, str):
            return False
        return hmac.compare_digest(self._value.encode(), other.encode("utf-8", "surrogatepass"))

    def reveal(self) -> str:
        """The value. Call only where it must leave the library (shown once, a signed call)."""
        return self._value


class AppSecret(Secret):
    """An app's secret. It never shows itself: ``repr``, ``str`` and errors print a mask.

    Compare with `matches` (constant time); read the value only with `reveal`; pickling raises
    `SecretExposureError` (see `Secret`).
    """

    __slots__ = ()

    @classmethod
    def _validate(cls, value: object) -> None:
        _check_secret(None, None, value)
