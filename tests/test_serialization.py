"""The one converter: round trips, strictness, secrets left out, bad documents refused."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aliexpress_onboarding import (
    AcceptAgreement,
    Actor,
    App,
    Applicant,
    Approve,
    DeveloperAccount,
    DeveloperApplication,
    DeveloperType,
    EligibilityReport,
    InvalidRecordError,
    Problem,
    ValidationError,
    check_eligibility,
    serialization,
)
from aliexpress_onboarding.domain.events import Event
from aliexpress_onboarding.domain.machine import SCRATCH
from aliexpress_onboarding.serialization import (
    MAX_JSON_BYTES,
    from_dict,
    from_json,
    to_dict,
    to_json,
)
from aliexpress_onboarding.testing import (
    T0,
    sample_account,
    sample_app,
    sample_application,
    sample_authorization,
)


def everything() -> list[Any]:
    """One of every serialisable domain object, with every optional field filled."""
    account, timeline = sample_account()
    application, submitted = sample_application(account)
    approved, decided = application.handle(Approve(), Actor.reviewer("rev-1"), T0)
    app, app_events = sample_app(account, approved)
    report = check_eligibility(approved.applicant, DeveloperType.COMMERCIAL)
    return [
        account,
        application,
        approved,
        app,
        approved.applicant,
        report,
        *timeline,
        *submitted,
        *decided,
        *app_events,
    ]


@pytest.mark.parametrize("obj", everything(), ids=lambda o: type(o).__name__)
def test_json_round_trip_for_every_domain_type(obj: object) -> None:
    """from_json(to_json(x, include_secrets=True)) == x for each aggregate, event and value."""
    assert obj == from_json(to_json(obj, include_secrets=True), type(obj))


def test_secrets_left_out_by_default() -> None:
    """Default serialisation has no secret; asking for it puts it in."""
    account, _ = sample_account()
    application, _ = sample_application(account)
    approved, _ = application.handle(Approve(), Actor.reviewer("r"), T0)
    app, _ = sample_app(account, approved)
    public = to_json(app)
    assert app.secret.reveal() not in public
    assert app.previous_secret is not None
    assert app.previous_secret.reveal() not in public
    assert app.secret.reveal() in to_json(app, include_secrets=True)


def test_document_without_secret_cannot_become_an_app() -> None:
    """A public document is refused as an App rather than given a made-up secret."""
    account, _ = sample_account()
    approved, _ = sample_application(account)[0].handle(Approve(), Actor.reviewer("r"), T0)
    app, _ = sample_app(account, approved)
    with pytest.raises(InvalidRecordError, match=r"\$\.data\.secret"):
        from_json(to_json(app), App)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "3"),  # no '3' -> 3
        ("version", 3.9),  # no 3.9 -> 3
        ("version", True),  # a bool is not an int here
        ("owner_id", 123),  # no 123 -> '123'
        ("created_at", "2026-03-02T09:00:00"),  # naive
        ("created_at", 1700000000),
        ("status", "ACTIVE"),  # enum values, exactly
    ],
)
def test_wrong_types_are_refused_not_coerced(field: str, value: object) -> None:
    """cattrs' lenient coercions are switched off; the path names the field."""
    document = to_dict(sample_account()[0])
    document["data"][field] = value
    with pytest.raises(InvalidRecordError) as caught:
        from_dict(document)
    assert any(p.startswith(f"$.data.{field}:") for p in caught.value.problems)


def _approved_app() -> tuple[DeveloperApplication, App]:
    account, _ = sample_account()
    approved, _ = sample_application(account)[0].handle(Approve(), Actor.reviewer("r"), T0)
    return approved, sample_app(account, approved)[0]


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("account", "version", 0),
        ("account", "version", -7),
        ("account", "agreement_version", ""),
        ("account", "agreement_accepted_at", "2026-03-02T09:00:00"),  # naive
        ("application", "version", 0),
        ("application", "owner_id", ""),
        ("application", "account_id", "x" * 129),
        ("application", "reviewer_id", "rev\n1"),
        ("application", "decided_at", "2026-03-02T09:00:00"),
        ("app", "version", -1),
        ("app", "owner_id", ""),
        ("app", "enterprise_id", ""),
        ("authorization", "store_limit", -1),
        ("authorization", "store_limit", 10_001),
        ("authorization", "app_id", ""),
        ("authorization", "version", 0),
    ],
)
def test_stored_aggregate_fields_obey_the_constructor_rules(
    kind: str, field: str, value: object
) -> None:
    """A document cannot hold what the aggregate's constructor would refuse; the path says where."""
    approved, app = _approved_app()
    authorization, _ = sample_authorization(sample_account()[0], app)
    aggregate = {
        "account": sample_account()[0],
        "application": approved,
        "app": app,
        "authorization": authorization,
    }[kind]
    document = to_dict(aggregate, include_secrets=True)
    document["data"][field] = value
    with pytest.raises(InvalidRecordError) as caught:
        from_dict(document)
    assert [f"$.data.{field}"] == [p.split(":")[0] for p in caught.value.problems]


def _report() -> EligibilityReport:
    applicant = sample_application(sample_account()[0])[0].applicant
    return check_eligibility(attrs.evolve(applicant, is_enterprise=False), "self")


def test_a_refusal_inside_a_list_names_the_item_and_its_field() -> None:
    """Problems in list items carry the item's index and the nested field in their path."""
    document = to_dict(_report())
    document["data"]["problems"][0]["blocking"] = "yes"
    document["data"]["problems"][0]["code"] = 5
    with pytest.raises(InvalidRecordError) as caught:
        from_dict(document)
    assert [
        "$.data.problems[0].code",
        "$.data.problems[0].blocking",
    ] == [p.split(":")[0] for p in caught.value.problems]


def test_string_is_not_a_list_of_letters() -> None:
    """A string where a list belongs is refused."""
    document = to_dict(_report())
    document["data"]["problems"] = "hello"
    with pytest.raises(InvalidRecordError, match="problems"):
        from_dict(document)


def test_booleans_are_strict() -> None:
    """'false' is not False."""
    document = to_dict(sample_application(sample_account()[0])[0].applicant)
    document["data"]["is_enterprise"] = "false"
    with pytest.raises(
        InvalidRecordError, match=r"\$\.data\.is_enterprise: expected true or false"
    ):
        from_dict(document)


def test_every_problem_is_listed_with_its_path() -> None:
    """Several problems come back together, each with its path."""
    document = to_dict(sample_account()[0])
    document["data"]["profile"]["email"] = "not-an-address"
    document["data"]["verification"]["store_count"] = "3"
    document["data"]["surprise"] = 1
    with pytest.raises(InvalidRecordError) as caught:
        from_dict(document)
    paths = sorted(p.split(":")[0] for p in caught.value.problems)
    assert ["$.data", "$.data.profile.email", "$.data.verification.store_count"] == paths


def test_unknown_schema_version_is_refused_clearly() -> None:
    """A document from a newer schema says so."""
    document = to_dict(sample_account()[0])
    document["schema_version"] = 2
    with pytest.raises(InvalidRecordError, match="schema_version: 2 is not supported"):
        from_dict(document)


def test_expected_type_is_enforced() -> None:
    """Asking for an App and getting an account document is refused."""
    with pytest.raises(InvalidRecordError, match="expected App"):
        from_json(to_json(sample_account()[0]), App)


def test_a_base_class_as_expected_type_accepts_its_subclasses() -> None:
    """from_dict(document, Event) reads any event, as its own class."""
    _, timeline = sample_account()
    assert timeline == [from_dict(to_dict(event), Event) for event in timeline]


def test_a_base_class_as_expected_type_refuses_other_types() -> None:
    """An account document is not an Event."""
    with pytest.raises(InvalidRecordError, match="expected Event, got DeveloperAccount"):
        from_dict(to_dict(sample_account()[0]), Event)


def test_events_are_tagged_by_type() -> None:
    """Events come back as their own class from the 'type' tag."""
    _, timeline = sample_account()
    assert [type(e) for e in timeline] == [type(from_json(to_json(e))) for e in timeline]


def test_oversize_and_deeply_nested_input_refused_before_parsing() -> None:
    """Size and nesting are capped before json.loads runs."""
    with pytest.raises(InvalidRecordError, match="more than the 1048576 a record may have"):
        from_json(" " * (1024 * 1024 + 1))
    with pytest.raises(InvalidRecordError, match="nested deeper"):
        from_json("[" * 100_000 + "]" * 100_000)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    """Text that merely contains brackets is not 'deep'."""
    document = to_dict(sample_account()[0])
    document["data"]["profile"]["contact_name"] = "[[[[" * 20
    assert "[[[[" * 20 == from_dict(document, DeveloperAccount).profile.contact_name  # type: ignore[union-attr]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200)
@given(json_values)
def test_arbitrary_json_raises_only_validation_errors(value: object) -> None:
    """from_json on any JSON never raises anything but our ValidationError."""
    try:
        from_json(json.dumps(value))
    except ValidationError:
        pass


@settings(max_examples=200)
@given(
    st.sampled_from([DeveloperAccount, DeveloperApplication, App, Applicant, Event]),
    st.dictionaries(
        st.sampled_from(["id", "version", "status", "owner_id", "created_at", "x"]),
        json_values,
        max_size=6,
    ),
)
def test_arbitrary_data_for_each_type_raises_only_validation_errors(
    kind: type[Any], data: dict[str, Any]
) -> None:
    """Random data under a valid envelope is refused with ValidationError, never a crash."""
    document = {"schema_version": 1, "type": kind.__name__, "data": data}
    try:
        from_dict(document)
    except ValidationError:
        pass


@given(st.sampled_from(everything()), st.data())
def test_mutated_documents_never_crash(obj: object, data: st.DataObject) -> None:
    """Replacing any one field with a random JSON value is accepted or refused cleanly."""
    document = to_dict(obj, include_secrets=True)
    fields = sorted(document["data"])
    document["data"][data.draw(st.sampled_from(fields))] = data.draw(json_values)
    try:
        from_dict(document)
    except ValidationError:
        pass


def test_data_that_is_not_an_object_is_refused() -> None:
    """'data' as null, a list or a number is an InvalidRecordError, not an AttributeError."""
    for data in (None, [], 3, "x"):
        with pytest.raises(InvalidRecordError, match=r"\$\.data: expected an object"):
            from_dict({"schema_version": 1, "type": "DeveloperAccount", "data": data})


def test_lone_surrogates_are_refused() -> None:
    """Text that is not valid Unicode ('\\ud800') is refused: it could not be stored as UTF-8."""
    document = to_dict(sample_account()[1][0])
    document["data"]["seller_id"] = "\ud800"
    with pytest.raises(InvalidRecordError, match="lone surrogate"):
        from_dict(document)


# ---------------------------------------------------------------------- strict both ways


def _fields_of(document: dict[str, Any], path: str = "$.data") -> list[tuple[str, list[str]]]:
    """Every field of a document, nested objects included: (its path, its key chain)."""
    found = []
    pending: list[tuple[dict[str, Any], str, list[str]]] = [(document["data"], path, [])]
    while pending:
        data, where, chain = pending.pop()
        for key, value in data.items():
            found.append((f"{where}.{key}", [*chain, key]))
            if isinstance(value, dict):
                pending.append((value, f"{where}.{key}", [*chain, key]))
    return found


@given(data=st.data())
@settings(max_examples=50)
def test_a_stored_document_missing_any_field_is_refused_naming_its_path(
    data: st.DataObject,
) -> None:
    """No field is ever filled in with a default: a missing one is named by its path."""
    obj = data.draw(st.sampled_from(everything()))
    document = json.loads(to_json(obj, include_secrets=True))
    path, chain = data.draw(st.sampled_from(_fields_of(document)))
    holder = document["data"]
    for key in chain[:-1]:
        holder = holder[key]
    del holder[chain[-1]]
    with pytest.raises(InvalidRecordError) as caught:
        from_json(json.dumps(document))
    assert [f"{path}: required field missing"] == [
        problem for problem in caught.value.problems if problem.startswith(path + ":")
    ]


def test_a_self_authorization_without_its_store_limit_is_refused() -> None:
    """The issue's case: no store limit is no longer 'no limit'."""
    _, app = _approved_app()
    authorization, _ = sample_authorization(sample_account()[0], app)
    document = json.loads(to_json(authorization, include_secrets=True))
    del document["data"]["store_limit"]
    with pytest.raises(InvalidRecordError, match=r"\$\.data\.store_limit: required field missing"):
        from_json(json.dumps(document))


def test_what_cannot_be_read_back_is_not_written() -> None:
    """The write cap is the read cap: to_json refuses what from_json could not read."""
    report = _report()
    one = Problem("some_code", "x" * 150)
    too_big = attrs.evolve(report, problems=(one,) * 6_000)  # ~1.1 MB of JSON
    fits = attrs.evolve(report, problems=(one,) * 10)
    with pytest.raises(InvalidRecordError) as caught:
        to_json(too_big, include_secrets=True)
    assert (True, True, fits) == (
        caught.value.problems[0].endswith(f"more than the {MAX_JSON_BYTES} a record may have"),
        caught.value.problems[0].startswith("$: 1"),  # gives the size
        from_json(to_json(fits, include_secrets=True)),
    )


def test_events_built_by_the_engine_read_back_as_their_own_class() -> None:
    """The engine builds events through a scratch subclass of each; none is a document type,
    and every event reads back as the very class it was recorded as."""
    account, _ = sample_account(active=False)
    application, _ = sample_application(sample_account()[0])
    _, accepted = account.handle(AcceptAgreement("2024-01"), Actor.seller(account.owner_id), T0)
    _, approved = application.handle(Approve(), Actor.reviewer("rev-1"), T0)
    events = [*accepted, *approved]
    read = [from_dict(to_dict(event), Event) for event in events]
    scratch = [t for t in serialization._event_types().values() if vars(t).get(SCRATCH)]
    assert ([], [type(e) for e in events], events) == (scratch, [type(e) for e in read], read)
