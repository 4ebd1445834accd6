"""Each "Developer types" rule of DESIGN.md, one test each."""

from __future__ import annotations

import math

import attrs
import pytest

from aliexpress_onboarding import (
    Applicant,
    DeveloperType,
    DocumentKind,
    EmailAddress,
    InvalidApplicantError,
    InvalidCountryCodeError,
    InvalidDeveloperTypeError,
    StorePlatform,
    check_eligibility,
    check_many,
    recommend_developer_type,
)

SELF = DeveloperType.SELF
COMMERCIAL = DeveloperType.COMMERCIAL

SELLER = Applicant(
    name="Hangzhou Sunrise Trading Co., Ltd.",
    country="CN",
    is_enterprise=True,
    is_aliexpress_seller=True,
)
ISV = Applicant(
    name="Connector Works GmbH",
    country="DE",
    is_enterprise=True,
    is_aliexpress_seller=False,
    builds_for_other_sellers=True,
    has_seller_test_account=True,
)


def codes(applicant: Applicant, developer_type: DeveloperType) -> tuple[list[str], list[str]]:
    report = check_eligibility(applicant, developer_type)
    return [p.code for p in report.blocking], [p.code for p in report.advice]


def test_self_developer_seller_enterprise_with_license_is_eligible() -> None:
    """An enterprise that sells on AliExpress and uploads its licence may apply as Self."""
    assert ([], []) == codes(SELLER, SELF)


def test_self_developer_must_be_an_enterprise() -> None:
    """Self developer: must be an enterprise."""
    individual = attrs.evolve(SELLER, is_enterprise=False)
    assert ["not_an_enterprise"] == codes(individual, SELF)[0]


def test_self_developer_must_be_an_aliexpress_seller() -> None:
    """Self developer: must be an AliExpress seller."""
    assert ["not_a_seller"] == codes(attrs.evolve(SELLER, is_aliexpress_seller=False), SELF)[0]


def test_self_developer_must_upload_business_license() -> None:
    """Self developer: must upload its enterprise's business licence."""
    assert ["missing_business_license"] == codes(attrs.evolve(SELLER, license_kind=None), SELF)[0]


def test_commercial_developer_uploads_business_license_too() -> None:
    """Commercial developer: uploads a business licence too."""
    assert ["missing_business_license"] == codes(attrs.evolve(ISV, license_kind=None), COMMERCIAL)[
        0
    ]


def test_commercial_developer_must_be_an_enterprise() -> None:
    """A business licence means an enterprise: individuals cannot be ISVs either."""
    assert ["not_an_enterprise"] == codes(attrs.evolve(ISV, is_enterprise=False), COMMERCIAL)[0]


def test_commercial_developer_need_not_be_a_seller() -> None:
    """Any enterprise building for other sellers may be an ISV, seller or not."""
    assert check_eligibility(ISV, COMMERCIAL).eligible


def test_commercial_developer_without_seller_test_account_gets_advice_not_a_blocker() -> None:
    """To test with a store of its own an ISV needs a seller test account: advice only."""
    report = check_eligibility(attrs.evolve(ISV, has_seller_test_account=False), COMMERCIAL)
    assert (True, ["no_seller_test_account"]) == (
        report.eligible,
        [p.code for p in report.advice],
    )


def test_cif_accepted_in_place_of_business_license_in_spain() -> None:
    """Spain: a CIF document is accepted in place of the business licence."""
    spanish = attrs.evolve(SELLER, country="ES", license_kind=DocumentKind.CIF)
    assert check_eligibility(spanish, SELF).eligible


@pytest.mark.parametrize("developer_type", list(DeveloperType))
def test_cif_outside_spain_is_refused(developer_type: DeveloperType) -> None:
    """A CIF replaces the business licence for applicants in ES only."""
    french = attrs.evolve(SELLER, country="FR", license_kind=DocumentKind.CIF)
    assert ["cif_outside_spain"] == codes(french, developer_type)[0]


@pytest.mark.parametrize("platform", [StorePlatform.PRESTASHOP, StorePlatform.MAGENTO])
def test_prestashop_or_magento_with_third_party_module_applies_as_self(
    platform: StorePlatform,
) -> None:
    """An overseas Prestashop/Magento seller using a third party's module is a Self developer."""
    shop = Applicant(
        name="Nordic Home AB",
        country="SE",
        is_enterprise=True,
        is_aliexpress_seller=True,
        store_platform=platform,
        uses_third_party_module=True,
    )
    assert SELF is recommend_developer_type(shop)
    assert ["own_store_third_party_module"] == codes(shop, COMMERCIAL)[1][1:]


def test_builds_for_other_sellers_is_commercial() -> None:
    """Who develops for other sellers is a Commercial developer (ISV)."""
    assert COMMERCIAL is recommend_developer_type(ISV)


def test_builds_for_own_stores_is_self() -> None:
    """A seller developing for its own store(s) is a Self developer."""
    assert SELF is recommend_developer_type(SELLER)


def test_self_developer_building_for_others_is_advised_to_apply_commercial() -> None:
    """A Self developer's app serves only its own stores: advice points to Commercial."""
    both = attrs.evolve(SELLER, builds_for_other_sellers=True)
    assert ([], ["self_serves_own_stores_only"]) == codes(both, SELF)


def test_recommendation_is_none_when_the_intended_type_is_blocked() -> None:
    """An individual cannot apply as anything yet."""
    individual = attrs.evolve(SELLER, is_enterprise=False, license_kind=None)
    assert recommend_developer_type(individual) is None


def test_blocking_problems_come_before_advice() -> None:
    """Problems are ordered blocking first."""
    report = check_eligibility(
        attrs.evolve(ISV, is_enterprise=False, has_seller_test_account=False), COMMERCIAL
    )
    assert [True, False] == [p.blocking for p in report.problems]


def test_check_eligibility_parses_developer_type_text() -> None:
    """The developer type may be given as text, e.g. 'ISV'."""
    assert COMMERCIAL is check_eligibility(ISV, "ISV").developer_type
    with pytest.raises(InvalidDeveloperTypeError):
        check_eligibility(ISV, "reseller")


def test_check_eligibility_refuses_non_applicant() -> None:
    """Passing a dict where an Applicant is due is a typed error."""
    with pytest.raises(InvalidApplicantError, match="applicant"):
        check_eligibility({"name": "x"}, SELF)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- records and batches


def test_report_to_dict_is_a_flat_record() -> None:
    """to_dict() holds only plain scalar values, ready for a data frame."""
    record = check_eligibility(
        attrs.evolve(ISV, has_seller_test_account=False), COMMERCIAL
    ).to_dict()
    assert {
        "applicant": "Connector Works GmbH",
        "country": "DE",
        "developer_type": "commercial",
        "eligible": True,
        "blocking": "",
        "advice": "no_seller_test_account",
    } == {k: v for k, v in record.items() if k != "messages"}
    assert all(isinstance(v, str | bool) for v in record.values())


def test_applicant_from_record_reads_csv_text() -> None:
    """CSV text (yes/no, enum values, empty = not given) becomes an Applicant."""
    applicant = Applicant.from_record(
        {
            "name": "Distribuciones Iberia S.L.",
            "country": "es",
            "is_enterprise": "yes",
            "is_aliexpress_seller": "TRUE",
            "license_kind": "cif",
            "store_platform": "",
            "email": "ops@iberia.example.com",
        }
    )
    assert (DocumentKind.CIF, StorePlatform.ALIEXPRESS, EmailAddress("ops@iberia.example.com")) == (
        applicant.license_kind,
        applicant.store_platform,
        applicant.email,
    )


def test_applicant_from_record_refuses_nan_naming_the_field() -> None:
    """NaN from a CSV read by pandas is refused, naming the field."""
    with pytest.raises(InvalidApplicantError) as caught:
        Applicant.from_record(
            {"name": "x", "country": "CN", "is_enterprise": math.nan, "is_aliexpress_seller": True}
        )
    assert "is_enterprise" == caught.value.field


def test_applicant_from_record_refuses_unknown_and_missing_fields() -> None:
    """A misspelt column or a missing required one is refused, not ignored."""
    with pytest.raises(InvalidApplicantError, match="unknown field"):
        Applicant.from_record({"name": "x", "contry": "CN"})
    with pytest.raises(InvalidApplicantError, match="required"):
        Applicant.from_record({"name": "x", "is_enterprise": True, "is_aliexpress_seller": True})


@pytest.mark.parametrize("value", ["maybe", 1, 0.0, None])
def test_applicant_yes_no_fields_are_strict(value: object) -> None:
    """An Applicant built directly takes real booleans only; 'maybe' is refused from a record."""
    with pytest.raises(InvalidApplicantError, match="is_enterprise"):
        Applicant(name="x", country="CN", is_enterprise=value, is_aliexpress_seller=True)  # type: ignore[arg-type]


def test_check_many_reports_each_applicant_in_order() -> None:
    """A batch gives one report per applicant, each against the type its facts point to."""
    reports = check_many(
        [
            SELLER,
            {
                "name": "Li Wei",
                "country": "CN",
                "is_enterprise": "no",
                "is_aliexpress_seller": "yes",
                "license_kind": "",
            },
            ISV,
        ]
    )
    assert [("self", True), ("self", False), ("commercial", True)] == [
        (str(r.developer_type), r.eligible) for r in reports
    ]


def test_check_many_names_the_row_of_a_bad_record() -> None:
    """A malformed record is reported with its 0-based row."""
    with pytest.raises(InvalidApplicantError) as caught:
        check_many(
            [
                SELLER,
                {
                    "name": "x",
                    "country": "XX",
                    "is_enterprise": "yes",
                    "is_aliexpress_seller": "yes",
                },
            ]
        )
    assert "[1].country" == caught.value.field


def test_country_on_applicant_is_validated() -> None:
    """An applicant's country must be an assigned code."""
    with pytest.raises(InvalidCountryCodeError):
        attrs.evolve(SELLER, country="UK")


@pytest.mark.parametrize("name", [" ", "   "])
def test_an_applicant_name_of_spaces_only_is_refused(name: str) -> None:
    """A name of spaces only is no name: refused by the constructor as by from_record."""
    with pytest.raises(InvalidApplicantError) as caught:
        Applicant(name=name, country="CN", is_enterprise=True, is_aliexpress_seller=True)
    assert "name" == caught.value.field
