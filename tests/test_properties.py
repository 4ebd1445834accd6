"""Hypothesis properties of the value objects and the eligibility rules."""

from __future__ import annotations

import re
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding import (
    AppKey,
    Applicant,
    AppName,
    AppSecret,
    CountryCode,
    DeveloperType,
    DocumentKind,
    DocumentPolicy,
    EmailAddress,
    LicenseDocument,
    MediaType,
    StorePlatform,
    ValidationError,
    check_eligibility,
    recommend_developer_type,
)
from aliexpress_onboarding._iso3166 import ASSIGNED_ALPHA2
from aliexpress_onboarding.domain.values import cif_control, uscc_check_character

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._ -"),
    st.binary(),
    st.lists(st.text(), max_size=3),
)
APP_NAME = re.compile(r"[A-Za-z0-9._]{1,30}")
app_names = st.from_regex(APP_NAME, fullmatch=True)


def only_validation_errors(constructor: Any, value: object) -> None:
    try:
        constructor(value)
    except ValidationError:
        pass


@given(anything)
def test_value_constructors_raise_only_validation_errors(value: object) -> None:
    """Whatever a caller passes, a constructor succeeds or raises a ValidationError."""
    for constructor in (
        AppName,
        AppKey,
        AppSecret,
        CountryCode,
        DeveloperType.parse,
        EmailAddress,
    ):
        only_validation_errors(constructor, value)


@given(anything, anything, anything)
def test_license_document_from_bytes_raises_only_validation_errors(
    data: object, filename: object, number: object
) -> None:
    """Random uploads, names and numbers never escape as TypeError, re.error or the like."""
    try:
        LicenseDocument.from_bytes(
            data,  # type: ignore[arg-type]
            filename=filename,  # type: ignore[arg-type]
            country="CN",
            registration_number=number,  # type: ignore[arg-type]
        )
    except ValidationError:
        pass


@given(st.text(max_size=40))
def test_app_name_accepts_exactly_the_platform_rule(text: str) -> None:
    """AppName accepts a text if and only if it is 1-30 ASCII letters, digits, '.' or '_'."""
    try:
        AppName(text)
        accepted = True
    except ValidationError:
        accepted = False
    assert bool(APP_NAME.fullmatch(text)) == accepted


@given(app_names)
def test_app_name_str_round_trips(name: str) -> None:
    """str() is canonical: AppName(str(x)) == x."""
    value = AppName(name)
    assert value == AppName(str(value))
    assert hash(value) == hash(AppName(str(value)))


@given(st.sampled_from(sorted(ASSIGNED_ALPHA2)), st.booleans())
def test_country_code_round_trips_in_any_case(code: str, lower: bool) -> None:
    """Any assigned code, in either case, gives the upper-case canonical code back."""
    value = CountryCode(code.lower() if lower else code)
    assert code == str(value) == str(CountryCode(str(value)))


@given(st.from_regex(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{9}", fullmatch=True))
def test_uscc_with_its_check_character_is_accepted_and_any_other_refused(first17: str) -> None:
    """Exactly one of the 31 possible check characters completes a valid code."""
    accepted = []
    for check in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        try:
            LicenseDocument.from_bytes(
                b"\xff\xd8\xff" + bytes(8),
                filename="l.jpg",
                country="CN",
                registration_number=first17 + check,
            )
            accepted.append(check)
        except ValidationError:
            pass
    assert [uscc_check_character(first17)] == accepted


@given(st.from_regex(r"[ABCDEFGHJNPQRSUVW][0-9]{7}", fullmatch=True))
def test_cif_accepts_a_control_character_only(first8: str) -> None:
    """A CIF with a computed control character is accepted in at least one of its forms."""
    digit, letter = cif_control(first8)
    accepted = 0
    for control in (digit, letter):
        try:
            LicenseDocument.from_bytes(
                b"\xff\xd8\xff" + bytes(8),
                filename="cif.jpg",
                kind=DocumentKind.CIF,
                country="ES",
                registration_number=first8 + control,
            )
            accepted += 1
        except ValidationError:
            pass
    assert accepted >= 1


@given(st.binary(min_size=1, max_size=4096), st.sampled_from(list(MediaType)))
def test_license_document_type_comes_from_content_not_name(body: bytes, named: MediaType) -> None:
    """Whatever the name says, the recorded type is the sniffed one (or the file is refused)."""
    policy = DocumentPolicy(allowed_types=frozenset(MediaType))
    for magic, actual in ((b"\xff\xd8\xff", MediaType.JPEG), (b"\x89PNG\r\n\x1a\n", MediaType.PNG)):
        filename = "upload" + sorted(named.extensions)[0]
        try:
            document = LicenseDocument.from_bytes(magic + body, filename=filename, policy=policy)
        except ValidationError:
            assert named is not actual
        else:
            assert (actual, named) == (document.media_type, actual)


@given(
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=16, max_size=64)
)
def test_app_secret_never_appears_in_its_renderings(value: str) -> None:
    """No rendering of a secret contains its value."""
    secret = AppSecret(value)
    assert all(value not in text for text in (repr(secret), str(secret), f"{secret}"))
    assert secret.matches(value)


applicants = st.builds(
    Applicant,
    name=st.text(
        alphabet=st.characters(categories=["L", "N", "Zs"]), min_size=1, max_size=20
    ).filter(lambda name: name.isprintable() and not name.isspace()),
    country=st.sampled_from(sorted(ASSIGNED_ALPHA2)),
    is_enterprise=st.booleans(),
    is_aliexpress_seller=st.booleans(),
    license_kind=st.sampled_from([None, *DocumentKind]),
    builds_for_other_sellers=st.booleans(),
    store_platform=st.sampled_from(list(StorePlatform)),
    uses_third_party_module=st.booleans(),
    has_seller_test_account=st.booleans(),
)


@given(applicants)
def test_recommended_type_is_always_eligible(applicant: Applicant) -> None:
    """A recommendation is never a type whose check has a blocking problem."""
    recommended = recommend_developer_type(applicant)
    if recommended is not None:
        assert check_eligibility(applicant, recommended).eligible


@given(applicants, st.sampled_from(list(DeveloperType)))
def test_eligible_exactly_when_no_blocking_problem(
    applicant: Applicant, developer_type: DeveloperType
) -> None:
    """eligible is the absence of blocking problems; the basic facts always block."""
    report = check_eligibility(applicant, developer_type)
    assert report.eligible == (not report.blocking)
    if not applicant.is_enterprise or applicant.license_kind is None:
        assert not report.eligible


@given(applicants)
def test_applicant_from_record_round_trips_to_dict_like_record(applicant: Applicant) -> None:
    """A record made of the applicant's own fields builds the same applicant."""
    record = {
        field.name: (str(value) if isinstance(value, CountryCode) else value)
        for field in attrs.fields(Applicant)
        if (value := getattr(applicant, field.name)) is not None
    }
    assert applicant == Applicant.from_record(record)
