"""Notebook helpers: flat records, HTML tables that escape user text, no secrets."""

from __future__ import annotations

import attrs

from aliexpress_onboarding import (
    Actor,
    Applicant,
    Approve,
    OnboardingService,
    Timeline,
    check_eligibility,
    to_records,
)
from aliexpress_onboarding.testing import T0, sample_account, sample_app, sample_application

HOSTILE = "<script>alert('x')</script> & Co"


def test_report_html_escapes_the_applicant_name() -> None:
    """An applicant called <script> stays text in the report's HTML."""
    applicant = Applicant(
        name=HOSTILE, country="CN", is_enterprise=False, is_aliexpress_seller=True
    )
    html = check_eligibility(applicant, "self")._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in html
    assert "not_an_enterprise" in html


def test_aggregate_html_escapes_text_and_hides_secrets() -> None:
    """An app's HTML shows its fields, escaped, and never its secret."""
    account, _ = sample_account()
    approved, _ = sample_application(account)[0].handle(Approve(), Actor.reviewer("r"), T0)
    application = attrs.evolve(approved, applicant=attrs.evolve(approved.applicant, name=HOSTILE))
    app, _ = sample_app(account, approved)
    for html in (application._repr_html_(), app._repr_html_(), account._repr_html_()):
        assert "<script>" not in html
    assert app.secret.reveal() not in app._repr_html_()
    assert "sunrise_sync" in app._repr_html_()


def test_to_records_gives_flat_plain_values_without_secrets() -> None:
    """Records hold only text, numbers, booleans and None; an app's secrets are left out."""
    account, timeline = sample_account()
    approved, _ = sample_application(account)[0].handle(Approve(), Actor.reviewer("r"), T0)
    app, events = sample_app(account, approved)
    records = to_records([account, approved, app, *timeline, *events])
    assert all(
        value is None or isinstance(value, str | int | float | bool)
        for record in records
        for value in record.values()
    )
    assert "secret" not in records[2]
    assert "previous_secret" not in records[2]
    assert ("AccountRegistered", "acc-1") == (records[3]["type"], records[3]["aggregate_id"])


def test_timeline_shows_events_in_order_as_text_and_html() -> None:
    """The service's timeline prints one line per event and renders an escaped table."""
    service = OnboardingService()
    seller = Actor.seller("s<1>")
    account = service.register_account(seller_id=seller.id, enterprise_id="e", actor=seller)
    service.accept_agreement(account.id, "v1", actor=seller)
    timeline = service.timeline(account.id)
    assert (2, ["AccountRegistered", "AgreementAccepted"]) == (
        len(timeline),
        [r["type"] for r in timeline.to_records()],
    )
    assert "s&lt;1&gt;" in timeline._repr_html_()
    assert str(timeline).splitlines()[1].endswith("v2 AgreementAccepted by seller s<1>")


def test_report_str_lists_problems() -> None:
    """str(report) is a readable summary with one line per problem."""
    applicant = Applicant(
        name="Li Wei", country="CN", is_enterprise=False, is_aliexpress_seller=True
    )
    text = str(check_eligibility(applicant, "self"))
    assert text.startswith("Li Wei (CN) as Self developer: not eligible\n  [x] not_an_enterprise")


def test_an_eligible_report_shows_its_columns_and_no_problems() -> None:
    """A report without problems is still a table: its header, and a row saying (none)."""
    applicant = Applicant(
        name="Sunrise", country="CN", is_enterprise=True, is_aliexpress_seller=True
    )
    html = check_eligibility(applicant, "self")._repr_html_()
    assert "<th>code</th><th>blocking</th><th>message</th>" in html
    assert '<td colspan="3">(none)</td>' in html


def test_an_empty_timeline_shows_its_columns() -> None:
    """A timeline without events keeps its header."""
    assert "<th>occurred_at</th>" in Timeline(())._repr_html_()


def test_nested_values_read_as_their_fields_not_their_repr() -> None:
    """An application's applicant and an account's profile show as `field: value` text."""
    account, _ = sample_account()
    application, _ = sample_application(account)
    html = application._repr_html_() + account._repr_html_()
    reprs = ("Applicant(", "CountryCode(", "DeveloperProfile(")
    assert [] == [text for text in reprs if text in html]
    assert "; country: CN; is_enterprise: True;" in str(to_records([application])[0]["applicant"])
    assert "<td>profile</td><td>contact_name: Wei Zhang; email: seller-1@example.com</td>" in html
