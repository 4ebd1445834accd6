"""The value objects hold the platform's rules on construction."""

from __future__ import annotations

import copy
import hashlib
import pickle
from pathlib import Path

import attrs
import pytest

from aliexpress_onboarding import (
    AppKey,
    AppName,
    AppSecret,
    CountryCode,
    DeveloperType,
    DocumentKind,
    DocumentPolicy,
    EmailAddress,
    InvalidAppNameError,
    InvalidCountryCodeError,
    InvalidCredentialError,
    InvalidDeveloperTypeError,
    InvalidDocumentError,
    InvalidEmailError,
    InvalidRegistrationNumberError,
    LicenseDocument,
    MediaType,
    ValidationError,
)
from aliexpress_onboarding.errors import InvalidPolicyError, SecretExposureError

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
PDF = b"%PDF-1.7\n" + bytes(32)
MIB = 1024 * 1024

# --------------------------------------------------------------------------- AppName


@pytest.mark.parametrize("name", ["a", "A", "0", ".", "_", "my_app.v2", "x" * 30, "Shop_2024.sync"])
def test_app_name_accepts_ascii_letters_digits_dot_underscore_up_to_30(name: str) -> None:
    """1 to 30 characters, each an ASCII letter, ASCII digit, '.' or '_', are accepted."""
    assert name == str(AppName(name))


def test_app_name_of_31_characters_is_refused() -> None:
    """The maximum length of the name is 30."""
    with pytest.raises(InvalidAppNameError, match="at most 30"):
        AppName("x" * 31)


def test_app_name_empty_is_refused() -> None:
    """An app name has at least one character."""
    with pytest.raises(InvalidAppNameError, match="empty"):
        AppName("")


@pytest.mark.parametrize(
    ("name", "position", "character"),
    [
        ("my app", 2, " "),
        ("my-app", 2, "-"),
        ("app!", 3, "!"),
        ("caf\u00e9", 3, "\u00e9"),  # a non-ASCII letter
        ("app\u0661", 3, "\u0661"),  # ARABIC-INDIC DIGIT ONE: a digit, but not ASCII
        ("\u212aelvin", 0, "\u212a"),  # KELVIN SIGN, which re.I would fold to 'k'
        ("\uff41pp", 0, "\uff41"),  # FULLWIDTH a
        ("app\n", 3, "\n"),  # '$' would have matched before it
    ],
)
def test_app_name_refuses_other_characters_naming_position_and_character(
    name: str, position: int, character: str
) -> None:
    """A refused character is reported with its position and the character itself."""
    with pytest.raises(InvalidAppNameError) as caught:
        AppName(name)
    assert (position, character, "app_name") == (
        caught.value.position,
        caught.value.character,
        caught.value.field,
    )


def test_app_name_is_not_trimmed_or_normalised() -> None:
    """Nothing is trimmed: surrounding spaces are refused, not cleaned."""
    with pytest.raises(InvalidAppNameError):
        AppName(" shop")


@pytest.mark.parametrize("value", [None, 42, b"app", ["app"]])
def test_app_name_refuses_non_text(value: object) -> None:
    """A non-string app name is a validation error, not a TypeError."""
    with pytest.raises(InvalidAppNameError, match="must be text"):
        AppName(value)  # type: ignore[arg-type]


def test_app_name_is_immutable_and_hashable() -> None:
    """Value objects are frozen and usable as dict keys."""
    name = AppName("shop")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        name.value = "other"  # type: ignore[misc]
    assert {AppName("shop"): 1}[name] == 1


def test_validation_error_is_a_value_error() -> None:
    """ValidationError subclasses the builtin ValueError for callers that catch that."""
    with pytest.raises(ValueError, match="app_name"):
        AppName("")


# --------------------------------------------------------------------------- DeveloperType


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("self", DeveloperType.SELF),
        ("Self developer", DeveloperType.SELF),
        ("SELF-DEVELOPED developer", DeveloperType.SELF),
        ("  self_developer ", DeveloperType.SELF),
        ("commercial", DeveloperType.COMMERCIAL),
        ("Commercial developer", DeveloperType.COMMERCIAL),
        ("ISV", DeveloperType.COMMERCIAL),
        ("independent software vendor", DeveloperType.COMMERCIAL),
        (DeveloperType.SELF, DeveloperType.SELF),
    ],
)
def test_developer_type_parse_accepts_the_ways_people_write_it(
    text: str, expected: DeveloperType
) -> None:
    """Self/Commercial in the guide's words, short forms and 'ISV' all parse."""
    assert expected is DeveloperType.parse(text)


@pytest.mark.parametrize("text", ["", "developer", "\u017felf", "isv2", None, 1])
def test_developer_type_parse_refuses_anything_else(text: object) -> None:
    """Unknown words, non-ASCII look-alikes (long s) and non-text are refused."""
    with pytest.raises(InvalidDeveloperTypeError):
        DeveloperType.parse(text)


def test_developer_type_str_is_canonical_text() -> None:
    """str() gives the canonical value; .label the platform's wording."""
    assert ("self", "Commercial developer") == (
        str(DeveloperType.SELF),
        DeveloperType.COMMERCIAL.label,
    )


# --------------------------------------------------------------------------- CountryCode


def test_country_code_upper_cases_lower_case_input() -> None:
    """Lower case is accepted and upper-cased."""
    assert CountryCode("ES") == CountryCode("es")
    assert "ES" == str(CountryCode("es"))


@pytest.mark.parametrize("code", ["XX", "UK", "EU", "ZZ", "E", "ESP", "E\u0405", "es\n", "\u0131t"])
def test_country_code_refuses_unassigned_and_malformed_codes(code: str) -> None:
    """Only the assigned ISO 3166-1 alpha-2 codes are countries ('UK' is not; 'GB' is)."""
    with pytest.raises(InvalidCountryCodeError):
        CountryCode(code)


# --------------------------------------------------------------------------- EmailAddress


def test_email_address_keeps_the_normalised_form() -> None:
    """The domain is lower-cased; the local part is kept."""
    assert "Dev.Team@example.com" == str(EmailAddress("Dev.Team@EXAMPLE.com"))


@pytest.mark.parametrize(
    "address", ["no-at-sign", "a@b", "a@localhost", "Name <a@example.com>", "a" * 400, 7]
)
def test_email_address_refuses_invalid_addresses(address: object) -> None:
    """Invalid syntax, non-global domains, display names and non-text are refused."""
    with pytest.raises(InvalidEmailError):
        EmailAddress(address)  # type: ignore[arg-type]


def test_email_address_never_uses_the_network_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Construction does no DNS look-up: a resolver that fails the test is never called."""
    import socket

    def no_network(*_: object, **__: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert "ops@nonexistent-domain-for-tests.com" == str(
        EmailAddress.parse("ops@nonexistent-domain-for-tests.com")
    )


# --------------------------------------------------------------------------- LicenseDocument


def test_license_document_sniffs_type_from_content_and_records_digest() -> None:
    """The type comes from the bytes; size and SHA-256 are recorded."""
    document = LicenseDocument.from_bytes(JPEG, filename="licence.JPG")
    assert (MediaType.JPEG, len(JPEG), hashlib.sha256(JPEG).hexdigest()) == (
        document.media_type,
        document.size,
        document.sha256,
    )


def test_license_document_default_policy_is_jpeg_or_png_up_to_2_mib() -> None:
    """The platform's form takes JPEG or PNG of at most 2 MiB."""
    policy = DocumentPolicy()
    assert ({MediaType.JPEG, MediaType.PNG}, 2 * MIB) == (policy.allowed_types, policy.max_bytes)
    assert MediaType.PNG == LicenseDocument.from_bytes(PNG, filename="x.png").media_type


def test_license_document_pdf_refused_by_default_allowed_by_policy() -> None:
    """A PDF needs a policy that allows it."""
    with pytest.raises(InvalidDocumentError, match="JPEG, PNG"):
        LicenseDocument.from_bytes(PDF, filename="licence.pdf")
    policy = DocumentPolicy(allowed_types=frozenset(MediaType))
    assert (
        MediaType.PDF == LicenseDocument.from_bytes(PDF, filename="l.pdf", policy=policy).media_type
    )


def test_license_document_empty_file_is_refused() -> None:
    """An empty upload is refused."""
    with pytest.raises(InvalidDocumentError, match="empty"):
        LicenseDocument.from_bytes(b"", filename="licence.jpg")


def test_license_document_oversize_file_is_refused() -> None:
    """A file of 2 MiB + 1 byte is refused; exactly 2 MiB is accepted."""
    LicenseDocument.from_bytes(JPEG + bytes(2 * MIB - len(JPEG)), filename="a.jpg")
    with pytest.raises(InvalidDocumentError, match="larger than"):
        LicenseDocument.from_bytes(JPEG + bytes(2 * MIB - len(JPEG) + 1), filename="a.jpg")


def test_license_document_extension_contradicting_content_is_refused() -> None:
    """A PNG named .jpg (or an executable named .png) is refused."""
    with pytest.raises(InvalidDocumentError, match="contradicts"):
        LicenseDocument.from_bytes(PNG, filename="licence.jpg")
    with pytest.raises(InvalidDocumentError, match="contradicts"):
        LicenseDocument.from_bytes(JPEG, filename="licence.exe")


def test_license_document_unknown_content_is_refused_whatever_the_name() -> None:
    """The name never decides the type: text named .png is refused."""
    with pytest.raises(InvalidDocumentError, match="content"):
        LicenseDocument.from_bytes(b"hello", filename="licence.png")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\windows\\licence.jpg", "licence.jpg"),
        ("scans/2024/licence.jpeg", "licence.jpeg"),
        ("licence", "licence"),
    ],
)
def test_license_document_keeps_the_file_name_without_directory(given: str, kept: str) -> None:
    """Directory parts (either slash) are dropped from the kept name."""
    assert kept == LicenseDocument.from_bytes(JPEG, filename=given).filename


@pytest.mark.parametrize("name", ["", "dir/", "..", "a\x00.jpg", "x" * 300 + ".jpg"])
def test_license_document_refuses_unusable_file_names(name: str) -> None:
    """A name that is empty, a directory, has control characters or is too long is refused."""
    with pytest.raises(InvalidDocumentError, match="filename"):
        LicenseDocument.from_bytes(JPEG, filename=name)


def test_license_document_from_path_reads_the_file(tmp_path: Path) -> None:
    """from_path reads the file and keeps only its name."""
    path = tmp_path / "licence.png"
    path.write_bytes(PNG)
    assert ("licence.png", MediaType.PNG) == (
        LicenseDocument.from_path(path).filename,
        LicenseDocument.from_path(path).media_type,
    )


def test_license_document_from_path_missing_file_is_a_validation_error(tmp_path: Path) -> None:
    """An unreadable path is an InvalidDocumentError, not an OSError."""
    with pytest.raises(InvalidDocumentError, match="cannot be read"):
        LicenseDocument.from_path(tmp_path / "missing.jpg")


def test_registration_number_china_unified_social_credit_code_is_verified() -> None:
    """China's 18-character code is checked, including its mod-31 check character."""
    document = LicenseDocument.from_bytes(
        JPEG, filename="l.jpg", country="CN", registration_number="91350100M000100Y43"
    )
    assert "91350100M000100Y43" == document.registration_number
    with pytest.raises(InvalidRegistrationNumberError, match="check character should be '3'"):
        LicenseDocument.from_bytes(
            JPEG, filename="l.jpg", country="CN", registration_number="91350100M000100Y44"
        )


@pytest.mark.parametrize(
    "number", ["91350100M000100Y4", "91350100M000100YI3", "9135010OM000100Y43"]
)
def test_registration_number_china_malformed_is_refused(number: str) -> None:
    """Wrong length or letters outside the code's alphabet (I, O, S, V, Z) are refused."""
    with pytest.raises(InvalidRegistrationNumberError):
        LicenseDocument.from_bytes(JPEG, filename="l.jpg", country="CN", registration_number=number)


@pytest.mark.parametrize(
    "number", ["B12345674", "A58123456", "P1234567D", "C1234567D", "C12345674"]
)
def test_registration_number_spain_cif_is_verified(number: str) -> None:
    """A CIF is a letter, 7 digits and a control digit or letter (by the first letter)."""
    document = LicenseDocument.from_bytes(
        JPEG, filename="cif.jpg", kind=DocumentKind.CIF, country="ES", registration_number=number
    )
    assert number == document.registration_number


@pytest.mark.parametrize(
    "number", ["B12345675", "B1234567D", "P12345674", "X12345674", "b12345674"]
)
def test_registration_number_spain_cif_with_wrong_control_is_refused(number: str) -> None:
    """A wrong control character, a letter where a digit is due, or a bad first letter fail."""
    with pytest.raises(InvalidRegistrationNumberError):
        LicenseDocument.from_bytes(
            JPEG,
            filename="cif.jpg",
            kind=DocumentKind.CIF,
            country="ES",
            registration_number=number,
        )


def test_registration_number_other_countries_kept_as_given() -> None:
    """Elsewhere a number of 1 to 64 printable characters is kept exactly as given."""
    number = "HRB 12345 (Amtsgericht München)"
    document = LicenseDocument.from_bytes(
        JPEG, filename="l.jpg", country="DE", registration_number=number
    )
    assert number == document.registration_number
    with pytest.raises(InvalidRegistrationNumberError):
        LicenseDocument.from_bytes(
            JPEG, filename="l.jpg", country="DE", registration_number="x" * 65
        )


def test_document_policy_refuses_bad_settings() -> None:
    """A policy with no types or a non-positive size limit is refused."""
    with pytest.raises(InvalidPolicyError):
        DocumentPolicy(allowed_types=frozenset())
    with pytest.raises(InvalidPolicyError):
        DocumentPolicy(max_bytes=0)


# --------------------------------------------------------------------------- credentials

SECRET = "s3cr3t-VALUE-0123456789abcdef"


def test_app_secret_is_redacted_in_repr_str_and_format() -> None:
    """The secret's value shows nowhere by accident."""
    secret = AppSecret(SECRET)
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", repr([secret])]
    assert not any(SECRET in text or SECRET[:8] in text for text in shown)


def test_app_secret_matches_compares_value() -> None:
    """matches() is true for the same value only; reveal() gives it back on purpose."""
    secret = AppSecret(SECRET)
    assert (True, False, False, SECRET) == (
        secret.matches(SECRET),
        secret.matches(SECRET + "x"),
        secret.matches(123),  # type: ignore[arg-type]
        secret.reveal(),
    )


def test_app_secret_uses_constant_time_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    """Comparison goes through hmac.compare_digest."""
    import hmac

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert AppSecret(SECRET) == AppSecret(SECRET)
    assert 1 == len(calls)


def test_app_secret_error_never_contains_the_value() -> None:
    """A malformed secret is refused without echoing it."""
    with pytest.raises(InvalidCredentialError) as caught:
        AppSecret("short secret")
    assert caught.value.value is None
    assert "short secret" not in str(caught.value)


def test_pickling_an_app_secret_is_refused() -> None:
    """A pickle would carry the secret in the clear: SecretExposureError (a TypeError)."""
    with pytest.raises(SecretExposureError) as caught:
        pickle.dumps(AppSecret(SECRET))
    assert (True, False) == (isinstance(caught.value, TypeError), SECRET in str(caught.value))


def test_copying_an_app_secret_gives_the_same_value() -> None:
    """copy and deepcopy work (an immutable value is its own copy)."""
    secret = AppSecret(SECRET)
    assert (secret, secret) == (copy.copy(secret), copy.deepcopy(secret))


@pytest.mark.parametrize("key", ["", "a b", "x" * 65, "k\u00e9y"])
def test_app_key_refuses_malformed_keys(key: str) -> None:
    """An appKey is 1 to 64 ASCII letters or digits."""
    with pytest.raises(InvalidCredentialError):
        AppKey(key)


def test_every_validation_error_names_field_value_and_rule() -> None:
    """The error carries the context as attributes."""
    with pytest.raises(ValidationError) as caught:
        CountryCode("XX")
    assert ("country", "XX") == (caught.value.field, caught.value.value)
    assert "ISO 3166-1" in caught.value.rule


def test_license_document_refuses_a_policy_of_the_wrong_type() -> None:
    """A policy that is not a DocumentPolicy is an InvalidPolicyError, not an AttributeError."""
    with pytest.raises(InvalidPolicyError):
        LicenseDocument.from_bytes(JPEG, filename="l.jpg", policy="strict")  # type: ignore[arg-type]
