"""Tokens, signed calls and the platform's errors, over real HTTP against the local simulator.

Every test that talks to the platform runs `HttpPlatformClient` against `PlatformSimulator` on
127.0.0.1 (nothing is mocked); the client and the simulator share a clock the tests move.
"""

from __future__ import annotations

import copy
import logging
import pickle
import string
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding._simulator import (
    CATEGORY_TREE_API,
    DEFAULT_LIFETIMES,
    PlatformSimulator,
)
from aliexpress_onboarding.adapters.platform_http import HttpPlatformClient
from aliexpress_onboarding.domain.values import DeveloperType
from aliexpress_onboarding.errors import (
    AccessTokenError,
    AppNotAllowedError,
    AuthorizationCodeError,
    InvalidCredentialError,
    PlatformError,
    PlatformResponseError,
    PlatformUnavailableError,
    RefreshTokenError,
    SecretExposureError,
    SignatureError,
    ValidationError,
)
from aliexpress_onboarding.platform import (
    DEFAULT_TOKEN_LIFETIMES,
    AccessToken,
    RefreshToken,
    TokenGrant,
    error_from_response,
    parse_token_response,
)
from aliexpress_onboarding.ports import PlatformClient
from aliexpress_onboarding.signing import signed_params

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
APP_KEY = "12345678"
SECRET = "app-secret-0123456789abcdef"
OTHER_KEY = "87654321"
OTHER_SECRET = "other-secret-0123456789abc"
CALLBACK = "https://shop.example.com/aliexpress/callback"
SELLER = "2000001"
TREE = {"category_id": 0, "filter_no_permission": True}


class ManualClock:
    """A clock the test moves by hand; the client and the simulator share it."""

    def __init__(self) -> None:
        self.current = T0

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def platform(clock: ManualClock) -> Iterator[PlatformSimulator]:
    with PlatformSimulator(clock=clock) as simulator:
        simulator.register_app(APP_KEY, SECRET, callback_url=CALLBACK)
        simulator.register_app(
            OTHER_KEY, OTHER_SECRET, callback_url=CALLBACK, developer_type="commercial"
        )
        simulator.add_seller(SELLER)
        yield simulator


def make_client(
    platform: PlatformSimulator, clock: ManualClock, **settings: Any
) -> HttpPlatformClient:
    options: dict[str, Any] = {
        "app_key": APP_KEY,
        "app_secret": SECRET,
        "gateway": platform.url,
        "clock": clock,
        "timeout": 2.0,
        "backoff": 0.02,
    }
    options.update(settings)
    return HttpPlatformClient(**options)


@pytest.fixture
def client(platform: PlatformSimulator, clock: ManualClock) -> Iterator[HttpPlatformClient]:
    with make_client(platform, clock) as made:
        yield made


def authorize(platform: PlatformSimulator, app_key: str = APP_KEY, state: str = "s-1") -> str:
    """Walk the seller's browser through the authorization page; the callback's URL."""
    query = {
        "response_type": "code",
        "force_auth": "true",
        "redirect_uri": CALLBACK,
        "client_id": app_key,
        "state": state,
    }
    response = httpx.get(f"{platform.authorize_endpoint}?{urlencode(query)}")
    assert 302 == response.status_code
    return response.headers["Location"]


def code_of(callback: str) -> str:
    return parse_qs(urlsplit(callback).query)["code"][0]


def grant_for(platform: PlatformSimulator, client: HttpPlatformClient) -> TokenGrant:
    return client.create_token(code_of(authorize(platform)))


# --------------------------------------------------------------------------- the whole flow


def test_a_seller_authorizes_the_app_calls_for_them_and_a_refresh_replaces_the_token(
    platform: PlatformSimulator, client: HttpPlatformClient
) -> None:
    """Authorize → code → token → business call → refresh → call; the old token is dropped."""
    callback = authorize(platform, state="opaque-state")
    assert CALLBACK == callback.partition("?")[0]
    assert ["opaque-state"] == parse_qs(urlsplit(callback).query)["state"]

    grant = client.create_token(code_of(callback))
    answer = client.call(CATEGORY_TREE_API, TREE, access_token=grant.access_token)
    categories = answer["aliexpress_solution_seller_category_tree_query_response"]
    assert [509, 44] == [
        c["children_category_id"] for c in categories["children_category_list"]["category_info"]
    ]

    renewed = client.refresh_token(grant.refresh_token)
    assert not renewed.access_token.matches(grant.access_token)
    client.call(CATEGORY_TREE_API, {**TREE, "category_id": 509}, access_token=renewed.access_token)
    with pytest.raises(AccessTokenError):
        client.call(CATEGORY_TREE_API, TREE, access_token=grant.access_token)
    with pytest.raises(RefreshTokenError):
        client.refresh_token(grant.refresh_token)


def test_a_grant_says_for_whom_and_until_when(
    platform: PlatformSimulator, client: HttpPlatformClient
) -> None:
    """The grant carries the seller, and a Self developer's token lasts about a year."""
    grant = grant_for(platform, client)
    assert (SELLER, SELLER) == (grant.seller_id, grant.user_id)
    assert T0 + timedelta(days=365) == grant.expires_at
    assert grant.refresh_expires_at > grant.expires_at
    assert grant.request_id is not None


def test_a_commercial_developers_token_lasts_a_month(
    platform: PlatformSimulator, clock: ManualClock
) -> None:
    """Token lifetime follows the app's developer type."""
    with make_client(platform, clock, app_key=OTHER_KEY, app_secret=OTHER_SECRET) as other:
        grant = other.create_token(code_of(authorize(platform, OTHER_KEY)))
    assert T0 + timedelta(days=30) == grant.expires_at


def test_the_client_is_a_platform_client(client: HttpPlatformClient) -> None:
    """The adapter implements the port."""
    assert isinstance(client, PlatformClient)


# --------------------------------------------------------------------------- authorization page


def test_the_authorization_page_refuses_a_redirect_uri_other_than_the_registered_one(
    platform: PlatformSimulator,
) -> None:
    """redirect_uri must equal the registered callback exactly: no redirect, a 400 page."""
    query = {"response_type": "code", "client_id": APP_KEY, "redirect_uri": CALLBACK + "/"}
    response = httpx.get(f"{platform.authorize_endpoint}?{urlencode(query)}")
    assert 400 == response.status_code
    assert "Location" not in response.headers


def test_a_seller_who_refuses_is_sent_back_with_access_denied(
    platform: PlatformSimulator,
) -> None:
    """A refusal redirects to the callback with error=access_denied and the state."""
    platform.deny_next_authorization()
    answer = parse_qs(urlsplit(authorize(platform, state="s-9")).query)
    assert (["access_denied"], ["s-9"]) == (answer["error"], answer["state"])
    assert "code" not in answer


# --------------------------------------------------------------------------- codes


def test_a_code_works_only_once(platform: PlatformSimulator, client: HttpPlatformClient) -> None:
    """A reused code is an AuthorizationCodeError that says to authorize again."""
    code = code_of(authorize(platform))
    client.create_token(code)
    with pytest.raises(AuthorizationCodeError) as caught:
        client.create_token(code)
    assert "InvalidCode" == caught.value.code
    assert "authorization link again" in caught.value.advice


def test_a_code_expires(
    platform: PlatformSimulator, client: HttpPlatformClient, clock: ManualClock
) -> None:
    """A code is short-lived (30 minutes on the simulator's clock)."""
    code = code_of(authorize(platform))
    clock.advance(timedelta(minutes=30))
    with pytest.raises(AuthorizationCodeError):
        client.create_token(code)


def test_a_code_works_only_for_the_app_it_was_issued_to(
    platform: PlatformSimulator, clock: ManualClock
) -> None:
    """Another app cannot exchange a code."""
    code = code_of(authorize(platform, APP_KEY))
    with (
        make_client(platform, clock, app_key=OTHER_KEY, app_secret=OTHER_SECRET) as other,
        pytest.raises(AuthorizationCodeError),
    ):
        other.create_token(code)


# --------------------------------------------------------------------------- signatures


def test_a_wrong_secret_is_a_signature_error_that_says_to_check_the_secret(
    platform: PlatformSimulator, clock: ManualClock
) -> None:
    """A request signed with another secret is refused as IncompleteSignature."""
    with (
        make_client(platform, clock, app_secret="not-the-secret-0123456789") as wrong,
        pytest.raises(SignatureError) as caught,
    ):
        wrong.create_token(code_of(authorize(platform)))
    assert ("IncompleteSignature", "ISV") == (caught.value.code, caught.value.type)
    assert "check the appSecret" in caught.value.advice


def test_a_parameter_changed_after_signing_is_a_signature_error(
    platform: PlatformSimulator, clock: ManualClock
) -> None:
    """The signature covers every parameter: one changed in transit is refused."""
    form = signed_params(
        CATEGORY_TREE_API,
        {"method": CATEGORY_TREE_API, "category_id": 0, "filter_no_permission": True},
        app_key=APP_KEY,
        secret=SECRET,
        timestamp_ms=int(clock.now().timestamp() * 1000),
    )
    form["category_id"] = "509"
    answer = httpx.post(f"{platform.url}/sync", data=form).json()
    assert isinstance(error_from_response(answer), SignatureError)


def test_a_clock_far_from_the_platforms_is_refused(
    platform: PlatformSimulator, clock: ManualClock
) -> None:
    """A timestamp more than 7200 s from the platform's time is refused."""
    late = ManualClock()
    late.current = clock.now() - timedelta(hours=3)
    with (
        HttpPlatformClient(APP_KEY, SECRET, gateway=platform.url, clock=late) as skewed,
        pytest.raises(PlatformError) as caught,
    ):
        skewed.create_token(code_of(authorize(platform)))
    assert "timestamp" in caught.value.args[0]


# --------------------------------------------------------------------------- tokens


def test_an_expired_access_token_is_refused(
    platform: PlatformSimulator, client: HttpPlatformClient, clock: ManualClock
) -> None:
    """After its lifetime the token no longer calls APIs; the error says to re-authorize."""
    grant = grant_for(platform, client)
    clock.advance(timedelta(days=365))
    with pytest.raises(AccessTokenError) as caught:
        client.call(CATEGORY_TREE_API, TREE, access_token=grant.access_token)
    assert "re-authorize the store" in caught.value.advice


def test_a_revoked_grant_refuses_both_tokens(
    platform: PlatformSimulator, client: HttpPlatformClient
) -> None:
    """A seller's revocation stops the access and the refresh token."""
    grant = grant_for(platform, client)
    platform.revoke(APP_KEY, SELLER)
    with pytest.raises(AccessTokenError):
        client.call(CATEGORY_TREE_API, TREE, access_token=grant.access_token)
    with pytest.raises(RefreshTokenError):
        client.refresh_token(grant.refresh_token)


def test_authorizing_again_replaces_the_previous_grant(
    platform: PlatformSimulator, client: HttpPlatformClient
) -> None:
    """One valid token per seller and app."""
    first = grant_for(platform, client)
    grant_for(platform, client)
    with pytest.raises(AccessTokenError):
        client.call(CATEGORY_TREE_API, TREE, access_token=first.access_token)


def test_an_unknown_refresh_token_is_refused(client: HttpPlatformClient) -> None:
    """A refresh token the platform never issued is a RefreshTokenError."""
    with pytest.raises(RefreshTokenError) as caught:
        client.refresh_token(RefreshToken("50001" + "x" * 40))
    assert "IllegalRefreshToken" == caught.value.code


def test_an_unmapped_code_stays_a_plain_platform_error(
    client: HttpPlatformClient,
) -> None:
    """An unmapped code keeps the platform's own code and message."""
    with pytest.raises(PlatformError) as caught:
        client.call("aliexpress.no.such.api", {})
    assert ("InvalidApiPath", PlatformError) == (caught.value.code, type(caught.value))


# --------------------------------------------------------------------------- failures on the way


def test_a_failing_gateway_is_retried_then_reported_unavailable(
    platform: PlatformSimulator, client: HttpPlatformClient, caplog: pytest.LogCaptureFixture
) -> None:
    """HTTP 5xx is retried `retries` times, then PlatformUnavailableError; no log holds a secret."""
    code = code_of(authorize(platform))
    platform.fail_next(3)
    with caplog.at_level(logging.DEBUG), pytest.raises(PlatformUnavailableError) as caught:
        client.create_token(code)
    assert (3, 500, True) == (caught.value.attempts, caught.value.status, caught.value.retryable)
    assert 3 == platform.received.count("/auth/token/create")
    ours = [r for r in caplog.records if r.name.startswith("aliexpress_onboarding")]
    assert 2 == len(ours)
    assert SECRET not in caplog.text  # httpx's and httpcore's own records included
    assert code not in caplog.text


def test_a_gateway_that_recovers_within_the_retries_answers(
    platform: PlatformSimulator, client: HttpPlatformClient
) -> None:
    """Two failures, then an answer: the third attempt succeeds."""
    code = code_of(authorize(platform))
    platform.fail_next(2, status=503)
    assert SELLER == client.create_token(code).seller_id
    assert 3 == platform.received.count("/auth/token/create")


def test_a_refusal_is_never_retried(
    platform: PlatformSimulator, client: HttpPlatformClient
) -> None:
    """A platform error answer is made once only."""
    with pytest.raises(RefreshTokenError):
        client.refresh_token(RefreshToken("50001" + "y" * 40))
    assert 1 == platform.received.count("/auth/token/refresh")


def test_a_slow_platform_is_a_timeout_within_the_deadline(
    platform: PlatformSimulator, clock: ManualClock
) -> None:
    """Answers slower than the timeout: every attempt times out, all within the deadline."""
    platform.delay_next(5, count=10)
    started = time.monotonic()
    with (
        make_client(platform, clock, timeout=0.2, retries=10, deadline=0.6) as slow,
        pytest.raises(PlatformUnavailableError) as caught,
    ):
        slow.refresh_token(RefreshToken("50001" + "z" * 40))
    elapsed = time.monotonic() - started
    assert elapsed < 0.6 + 0.2 + 0.5  # the deadline, one timeout, a margin
    assert "timed out" in str(caught.value)
    assert caught.value.attempts is not None
    assert caught.value.attempts >= 2


def test_malformed_json_is_a_response_error(
    platform: PlatformSimulator, client: HttpPlatformClient
) -> None:
    """An answer that is not JSON is a PlatformResponseError, not a crash."""
    code = code_of(authorize(platform))
    platform.malform_next()
    with pytest.raises(PlatformResponseError) as caught:
        client.create_token(code)
    assert "$" == caught.value.field


@pytest.mark.parametrize("field", ["access_token", "refresh_token", "seller_id"])
def test_a_token_answer_missing_a_field_is_refused_or_kept_empty(
    platform: PlatformSimulator, client: HttpPlatformClient, field: str
) -> None:
    """A missing token is a PlatformResponseError naming it; a missing id is kept as None."""
    code = code_of(authorize(platform))
    platform.omit_next_token_field(field)
    if field == "seller_id":
        assert client.create_token(code).seller_id is None
        return
    with pytest.raises(PlatformResponseError) as caught:
        client.create_token(code)
    assert field == caught.value.field


# --------------------------------------------------------------------------- secrecy


def test_tokens_never_show_their_value() -> None:
    """repr, str, format and f-strings of tokens and grants print a mask."""
    access, refresh = AccessToken("VALUE-OF-THE-ACCESS"), RefreshToken("VALUE-OF-THE-REFRESH")
    grant = TokenGrant(access, refresh, T0, T0)
    for shown in (repr(access), str(access), f"{access:>30}", repr(refresh), repr(grant)):
        assert "VALUE" not in shown


@pytest.mark.parametrize("secret", [AccessToken("a" * 20), RefreshToken("r" * 20)])
def test_pickling_a_token_is_refused(secret: AccessToken | RefreshToken) -> None:
    """A pickle would write the token out in the clear."""
    with pytest.raises(SecretExposureError):
        pickle.dumps(secret)
    with pytest.raises(SecretExposureError):
        pickle.dumps(TokenGrant(AccessToken("a" * 20), RefreshToken("r" * 20), T0, T0))


def test_tokens_compare_by_value_and_kind() -> None:
    """Equal values are equal tokens; an access token never equals a refresh token."""
    assert AccessToken("t" * 20) == AccessToken("t" * 20)
    assert AccessToken("t" * 20) != RefreshToken("t" * 20)
    assert AccessToken("t" * 20).matches("t" * 20)
    assert not AccessToken("t" * 20).matches(RefreshToken("t" * 20))  # type: ignore[arg-type]
    token = AccessToken("c" * 20)
    assert token is copy.deepcopy(token)


def test_a_malformed_token_is_refused_without_showing_it() -> None:
    """Tokens are 16 to 512 visible ASCII characters; the refusal hides the value."""
    with pytest.raises(InvalidCredentialError) as caught:
        AccessToken("short secret")
    assert "short secret" not in str(caught.value)
    assert caught.value.value is None


def test_errors_never_show_the_tokens_or_the_code_sent(
    platform: PlatformSimulator, client: HttpPlatformClient
) -> None:
    """No refusal's message or attributes holds a token, a code or the appSecret."""
    grant = grant_for(platform, client)
    code = code_of(authorize(platform))
    client.create_token(code)
    errors: list[PlatformError] = []
    for attempt in (
        lambda: client.create_token(code),
        lambda: client.refresh_token(grant.refresh_token),
        lambda: client.call(CATEGORY_TREE_API, TREE, access_token=grant.access_token),
    ):
        with pytest.raises(PlatformError) as caught:
            attempt()
        errors.append(caught.value)
    for error in errors:
        text = str(error) + repr(vars(error))
        for secret in (code, SECRET, grant.access_token.reveal(), grant.refresh_token.reveal()):
            assert secret not in text
        assert error.__cause__ is None


def test_a_platform_message_quoting_a_secret_is_masked() -> None:
    """Secrets the request carried are masked in the platform's message."""
    token = "50000" + "q" * 40
    error = error_from_response(
        {"code": "X", "type": "ISV", "message": f"bad token {token}"}, mask=[token]
    )
    assert error is not None
    assert token not in str(error)
    assert "***" in str(error)


def test_the_client_shows_only_its_app_key_and_gateway(client: HttpPlatformClient) -> None:
    """The repr never holds the appSecret."""
    assert SECRET not in repr(client)
    assert APP_KEY in repr(client)


def test_a_business_parameter_may_not_name_a_system_parameter(client: HttpPlatformClient) -> None:
    """app_key, timestamp, sign, access_token, ... are the client's to set."""
    with pytest.raises(ValidationError):
        client.call(CATEGORY_TREE_API, {"access_token": "smuggled-token-value"})


# --------------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("IllegalAccessToken", AccessTokenError),
        ("IllegalRefreshToken", RefreshTokenError),
        ("InvalidCode", AuthorizationCodeError),
        ("IncompleteSignature", SignatureError),
        ("InsufficientPermission", AppNotAllowedError),
        ("AppWhiteIpLimit", AppNotAllowedError),
        ("AppCallLimit", AppNotAllowedError),
        ("SomethingNew", PlatformError),
    ],
)
def test_a_known_code_maps_to_its_error_whatever_its_type(
    code: str, expected: type[PlatformError]
) -> None:
    """Known codes win; an unknown ISV code stays a plain PlatformError."""
    error = error_from_response({"code": code, "type": "ISV", "message": "m", "request_id": "r"})
    assert expected is type(error)


@pytest.mark.parametrize("kind", ["ISP", "SYSTEM"])
def test_the_platforms_own_failures_are_unavailable_and_retryable(kind: str) -> None:
    """type ISP or SYSTEM: the request was not at fault; try again later."""
    error = error_from_response({"code": "ServiceTimeout", "type": kind, "request_id": "r-1"})
    assert isinstance(error, PlatformUnavailableError)
    assert ("ServiceTimeout", kind, "r-1", True) == (
        error.code,
        error.type,
        error.request_id,
        error.retryable,
    )


@pytest.mark.parametrize("document", [{"code": "0"}, {"code": 0}, {"access_token": "x"}])
def test_a_success_is_no_error(document: dict[str, Any]) -> None:
    """A missing code or code "0" is a success."""
    assert error_from_response(document) is None


def test_the_top_error_envelope_is_read_too() -> None:
    """{"error_response": {...}} maps by its sub_code."""
    error = error_from_response(
        {"error_response": {"code": 15, "msg": "Remote service error", "sub_code": "isv.x-y"}}
    )
    assert error is not None
    assert ("isv.x-y", "ISV", PlatformError) == (error.code, error.type, type(error))


# --------------------------------------------------------------------------- parsing grants

_VISIBLE = st.characters(min_codepoint=33, max_codepoint=126)
_TOKENS = st.text(_VISIBLE, min_size=16, max_size=64)
_IDS = st.text(string.ascii_letters + string.digits + "@._- ", min_size=1, max_size=40).filter(
    str.strip
)
_MILLISECONDS = st.integers(0, 253_402_300_799_000)  # up to 9999-12-31T23:59:59Z
_SECONDS = st.integers(0, 10 * 366 * 86_400)


@given(_TOKENS, _TOKENS, _MILLISECONDS, _MILLISECONDS, _IDS, _IDS)
def test_absolute_expiry_round_trips(
    access: str, refresh: str, expires: int, refresh_expires: int, seller: str, account: str
) -> None:
    """Epoch-millisecond times and every field come back as given."""
    document = {
        "access_token": access,
        "refresh_token": refresh,
        "expire_time": expires,
        "refresh_token_valid_time": str(refresh_expires),
        "seller_id": seller,
        "account": account,
        "user_id": 42,
        "code": "0",
    }
    grant = parse_token_response(document, now=T0)
    assert (access, refresh) == (grant.access_token.reveal(), grant.refresh_token.reveal())
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert epoch + timedelta(milliseconds=expires) == grant.expires_at
    assert epoch + timedelta(milliseconds=refresh_expires) == grant.refresh_expires_at
    assert (seller, account, "42", None) == (
        grant.seller_id,
        grant.account,
        grant.user_id,
        grant.havana_id,
    )


@given(_TOKENS, _TOKENS, _SECONDS, _SECONDS)
def test_relative_expiry_counts_from_now(
    access: str, refresh: str, expires_in: int, refresh_expires_in: int
) -> None:
    """Without absolute times, expires_in and refresh_expires_in count from now."""
    document = {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": expires_in,
        "refresh_expires_in": refresh_expires_in,
    }
    grant = parse_token_response(document, now=T0)
    assert T0 + timedelta(seconds=expires_in) == grant.expires_at
    assert T0 + timedelta(seconds=refresh_expires_in) == grant.refresh_expires_at


@pytest.mark.parametrize(
    ("developer_type", "lifetime"),
    [(DeveloperType.SELF, timedelta(days=365)), (DeveloperType.COMMERCIAL, timedelta(days=30))],
)
def test_an_answer_without_expiry_follows_the_policy_for_the_developer_type(
    developer_type: DeveloperType, lifetime: timedelta
) -> None:
    """No expire_time or expires_in: a Self developer's token lives a year, a Commercial
    developer's a month (the policy default); without a default such an answer is refused."""
    document = {"access_token": "a" * 20, "refresh_token": "r" * 20, "code": "0"}
    default = DEFAULT_TOKEN_LIFETIMES[developer_type]
    grant = parse_token_response(document, now=T0, default_lifetime=default)
    assert (T0 + lifetime, T0 + lifetime) == (grant.expires_at, grant.refresh_expires_at)
    with pytest.raises(PlatformResponseError):
        parse_token_response(document, now=T0)
    with pytest.raises(ValidationError):
        parse_token_response(document, now=T0, default_lifetime=timedelta(0))


def test_the_client_applies_the_policy_default_for_its_developer_type(
    platform: PlatformSimulator, clock: ManualClock
) -> None:
    """An answer that omits both expiry fields: the client's developer type decides."""
    with make_client(platform, clock, developer_type="commercial") as client:
        platform.omit_next_token_field("expire_time", "expires_in")
        grant = grant_for(platform, client)
    assert clock.now() + timedelta(days=30) == grant.expires_at


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)
_FIELDS = st.sampled_from(
    [
        "access_token",
        "refresh_token",
        "expire_time",
        "expires_in",
        "refresh_token_valid_time",
        "refresh_expires_in",
        "seller_id",
        "code",
        "type",
        "message",
    ]
)


@given(st.dictionaries(_FIELDS, _JSON | _TOKENS | _MILLISECONDS) | _JSON)
def test_any_document_is_a_grant_or_a_platform_error(document: object) -> None:
    """Whatever the answer, parsing returns a grant or raises a PlatformError: nothing else."""
    try:
        parse_token_response(document, now=T0)
    except PlatformError:
        pass


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([], "$"),
        ({"refresh_token": "r" * 20, "expires_in": 1, "refresh_expires_in": 1}, "access_token"),
        ({"access_token": 12345678901234567890, "refresh_token": "r" * 20}, "access_token"),
        (
            {"access_token": "a" * 20, "refresh_token": "r" * 20, "expires_in": "soon"},
            "expires_in",
        ),
        (
            {"access_token": "a" * 20, "refresh_token": "r" * 20, "refresh_expires_in": 1},
            "expire_time/expires_in",
        ),
        (
            {
                "access_token": "a" * 20,
                "refresh_token": "r" * 20,
                "expires_in": 1,
                "refresh_expires_in": True,
            },
            "refresh_expires_in",
        ),
        (
            {
                "access_token": "a" * 20,
                "refresh_token": "r" * 20,
                "expire_time": 10**14 * 9,
                "refresh_expires_in": 1,
            },
            "expire_time",
        ),
    ],
)
def test_a_malformed_token_answer_names_the_field(document: object, field: str) -> None:
    """Missing fields, wrong types and impossible times are refused, naming the field."""
    with pytest.raises(PlatformResponseError) as caught:
        parse_token_response(document, now=T0)
    assert field == caught.value.field


def test_a_token_error_answer_raises_its_typed_error() -> None:
    """parse_token_response raises the platform's error when the answer is one."""
    with pytest.raises(AuthorizationCodeError):
        parse_token_response({"code": "InvalidCode", "type": "ISV", "message": "m"}, now=T0)


# --------------------------------------------------------------------------- the simulator


def test_the_simulator_refuses_an_oversized_request(platform: PlatformSimulator) -> None:
    """Request bodies are capped (64 KiB)."""
    response = httpx.post(f"{platform.url}/rest/auth/token/create", content=b"x" * 70_000)
    assert 413 == response.status_code


def test_the_simulator_stops_promptly_and_frees_its_port(clock: ManualClock) -> None:
    """stop cuts a delayed answer short; then the port answers no more and the URL is gone."""
    simulator = PlatformSimulator(clock=clock).start()
    url = simulator.url
    simulator.delay_next(30)
    answers: list[int] = []
    waiting = threading.Thread(
        target=lambda: answers.append(httpx.post(f"{url}/sync", data={"a": "b"}).status_code)
    )
    waiting.start()
    give_up = time.monotonic() + 5
    while not simulator.received and time.monotonic() < give_up:
        time.sleep(0.01)
    started = time.monotonic()
    simulator.stop()
    waiting.join(timeout=5)
    assert time.monotonic() - started < 2
    assert [503] == answers
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)
    with pytest.raises(ValidationError):
        _ = simulator.url


def test_the_simulators_lifetimes_follow_the_developer_type() -> None:
    """Self ≈ a year, Commercial ≈ a month, refresh tokens longer."""
    self_life, commercial = (
        DEFAULT_LIFETIMES[DeveloperType.SELF],
        DEFAULT_LIFETIMES[DeveloperType.COMMERCIAL],
    )
    assert (timedelta(days=365), timedelta(days=30)) == (self_life.access, commercial.access)
    assert self_life.refresh > self_life.access
    assert commercial.refresh > commercial.access
