"""OAuth authorization, pure: the callback URL, the authorize URL, the state and the callback."""

from __future__ import annotations

import hmac
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding.domain.oauth import (
    AuthorizationRequest,
    CallbackUrl,
    authorize_url,
    callback_state_digest,
    new_state,
)
from aliexpress_onboarding.domain.values import AppKey
from aliexpress_onboarding.errors import (
    AuthorizationDeniedError,
    AuthorizationError,
    AuthorizationExpiredError,
    CallbackMismatchError,
    InvalidCallbackError,
    InvalidCallbackUrlError,
    InvalidCredentialError,
    InvalidDateTimeError,
    InvalidStateError,
    OnboardingError,
    StateReusedError,
    ValidationError,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REDIRECT = "https://shop.example.com/aliexpress/callback"
STATE = "S" * 11 + "tate-of-the_request"  # 30 token_urlsafe characters: recognisable in text
CODE = "3_500102_CodeOfTheSeller_0123456789"
APP = "app-1"
URLSAFE = frozenset(string.ascii_letters + string.digits + "-_")


def start(
    state: str = STATE, *, redirect_uri: str = REDIRECT, **changes: Any
) -> AuthorizationRequest:
    arguments: dict[str, Any] = {"app_id": APP, "actor_id": "seller-1", "now": T0} | changes
    return AuthorizationRequest.start(state, redirect_uri=redirect_uri, **arguments)


def callback(redirect: str = REDIRECT, **parameters: str) -> str:
    given = {"code": CODE, "state": STATE} | parameters
    return f"{redirect}?{urlencode({k: v for k, v in given.items() if v is not None})}"


def refusal(url: object) -> str:
    with pytest.raises(InvalidCallbackUrlError) as caught:
        CallbackUrl(url)  # type: ignore[arg-type]
    return caught.value.rule


# --------------------------------------------------------------------------- CallbackUrl


def test_callback_url_keeps_its_text_exactly() -> None:
    """The canonical text is the text as given: redirect_uri must match it by character."""
    text = "https://shop.example.com:8443/Callback/%7Eoauth/"
    assert (text, text) == (str(CallbackUrl(text)), CallbackUrl(text).value)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "https://shop.example.com/aliexpress/callback",
        "https://example.com:8443/cb",
        "https://203.0.113.7/cb",
        "https://[2001:db8::1]/cb",
        "https://example.com/a%2Fb;c=d/~x/@y:z!$&'()*+,=",
    ],
)
def test_callback_url_over_https_is_accepted(url: str) -> None:
    """Any https URL with a host is a callback URL."""
    assert url == str(CallbackUrl(url))


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/cb",
        "http://localhost:8080/cb",
        "http://127.0.0.1/cb",
        "http://127.255.10.1:9000/",
        "http://[::1]/cb",
        "http://[::1]:8080/cb",
    ],
)
def test_callback_url_over_http_is_accepted_for_a_loopback_host(url: str) -> None:
    """http is allowed for 127.0.0.0/8, [::1] and localhost: development on one's machine."""
    assert url == str(CallbackUrl(url))


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/cb",
        "http://10.0.0.1/cb",
        "http://128.0.0.1/cb",
        "http://[::2]/cb",
        "http://localhost.example.com/cb",
        "http://[::ffff:7f00:1]/cb",
    ],
)
def test_callback_url_over_http_is_refused_for_a_public_host(url: str) -> None:
    """The code travels in the callback: over plain http only to one's own machine."""
    assert refusal(url).startswith("must use https")


@pytest.mark.parametrize(
    "url", ["https://user:pass@example.com/cb", "https://user@example.com/", "https://@x.com/"]
)
def test_callback_url_with_user_info_is_refused(url: str) -> None:
    """No user name or password before the host."""
    assert "must have no user name or password ('user:pass@')" == refusal(url)


def test_callback_url_with_a_fragment_is_refused() -> None:
    """A fragment never reaches the server: no '#'."""
    assert "must have no fragment ('#...')" == refusal("https://example.com/cb#top")


def test_callback_url_with_a_query_is_refused() -> None:
    """The platform appends '?code=...&state=...': the registered URL has no query."""
    assert refusal("https://example.com/cb?tenant=1").startswith("must have no query")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/cb",
        "javascript://example.com/%0aalert(1)",
        "HTTPS://example.com/cb",
        "Https://example.com/cb",
        "example.com/cb",
        "//example.com/cb",
        " https://example.com/cb",
        "https:/example.com/cb",
    ],
)
def test_callback_url_scheme_must_be_https_or_http_in_lower_case(url: str) -> None:
    """The scheme is 'https://' or 'http://', exactly, at the very start."""
    assert refusal(url).startswith("must start with 'https://'")


@pytest.mark.parametrize(
    "url",
    [
        "https:///cb",
        "https://Example.com/cb",
        "https://127.1/cb",
        "https://0x7f.0.0.1/cb",
        "https://127.000.0.1/cb",
        "https://2130706433/cb",
        "https://[0:0:0:0:0:0:0:1]/cb",
        "https://[fe80::1%25eth0]/cb",
        "https://[::1/cb",
        "https://[::1]x/cb",
        "https://example.com./cb",
        "https://a..b/cb",
        "https://-shop.example.com/cb",
        "https://shop_1.example.com/cb",
        "https://exa mple.com/cb",
        "https://example.com\\evil.com/cb",
        "https://" + "a" * 64 + ".com/cb",
    ],
)
def test_callback_url_host_must_be_written_as_a_browser_keeps_it(url: str) -> None:
    """A host a browser would rewrite (case, short IPv4, long IPv6, ...) could never match."""
    assert refusal(url).startswith("the host must be")


def test_callback_url_must_be_ascii_with_an_internationalised_host_in_its_idna_form() -> None:
    """Non-ASCII text is refused; the same host in its IDNA form (xn--) is accepted."""
    assert refusal("https://bücher.example/cb").startswith("must be ASCII")
    assert "https://xn--bcher-kva.example/cb" == str(
        CallbackUrl("https://xn--bcher-kva.example/cb")
    )


@pytest.mark.parametrize("url", ["https://example.com:443/cb", "http://localhost:80/cb"])
def test_callback_url_with_the_default_port_is_refused(url: str) -> None:
    """A browser drops ':443' (':80' for http), so the callback would not match."""
    assert refusal(url).startswith("must leave out the scheme's default port")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com:/cb",
        "https://example.com:0/cb",
        "https://example.com:08443/cb",
        "https://example.com:65536/cb",
        "https://example.com:123456/cb",
        "https://example.com:8o80/cb",
        "https://[::1]:/cb",
    ],
)
def test_callback_url_with_a_bad_port_is_refused(url: str) -> None:
    """A port is 1 to 65535, written without leading zeros."""
    assert refusal(url).startswith("the port must be a number from 1 to 65535")


def test_callback_url_needs_a_path() -> None:
    """'https://example.com' becomes 'https://example.com/' in a browser: write the '/'."""
    assert refusal("https://example.com").startswith("must have a path after the host")


@pytest.mark.parametrize(
    "path", ["/./cb", "/a/../cb", "/cb/.", "/cb/..", "/%2e/cb", "/%2E%2e/cb", "/.%2E/cb"]
)
def test_callback_url_with_dot_segments_is_refused(path: str) -> None:
    """A browser removes '.' and '..' segments (percent-encoded too) from a path."""
    assert refusal(f"https://example.com{path}").startswith("the path must have no '.'")


@pytest.mark.parametrize("character", [" ", "\\", "<", ">", '"', "{", "}", "|", "^", "`", "[", "]"])
def test_callback_url_path_characters_outside_rfc_3986_are_refused(character: str) -> None:
    """A browser would percent-encode them (or read '\\' as '/'): percent-encode them first."""
    expected = f"the path must not contain {character!r}: percent-encode it"
    assert expected == refusal(f"https://example.com/a{character}b")


@pytest.mark.parametrize("character", ["\t", "\n", "\r", "\0", "\x7f"])
def test_callback_url_control_characters_are_refused(character: str) -> None:
    """urllib silently drops tabs and newlines; here they are refused."""
    assert refusal(f"https://example.com/a{character}b").startswith("the path must not contain")


@pytest.mark.parametrize("path", ["/%", "/%4", "/%zz", "/a%g0"])
def test_callback_url_with_a_broken_percent_escape_is_refused(path: str) -> None:
    """'%' starts two hexadecimal digits."""
    assert refusal(f"https://example.com{path}").startswith("in the path, '%' must start")


def test_callback_url_of_2048_characters_is_accepted_and_of_2049_refused() -> None:
    """A callback URL has at most 2048 characters."""
    prefix = "https://example.com/"
    longest = prefix + "a" * (2048 - len(prefix))
    assert longest == str(CallbackUrl(longest))
    assert "must be 1 to 2048 characters" == refusal(longest + "a")


@pytest.mark.parametrize("value", [None, 42, b"https://example.com/cb", ""])
def test_callback_url_that_is_not_text_is_refused(value: object) -> None:
    """Only non-empty text is a URL."""
    assert refusal(value) in {"must be text", "must be 1 to 2048 characters"}


def test_callback_url_error_names_field_value_and_rule() -> None:
    """The error is a ValidationError (a ValueError) naming the field, the value and the rule."""
    with pytest.raises(ValueError, match="callback_url: must use https") as caught:
        CallbackUrl("http://example.com/cb")
    error = caught.value
    assert isinstance(error, ValidationError)
    assert ("callback_url", "http://example.com/cb") == (error.field, error.value)


URL_TEXT = st.text(alphabet=st.sampled_from("hts:/[]@.%?#-_~:19aAzZ\\ \t\x00é"), max_size=40)


@given(st.one_of(st.text(max_size=60), URL_TEXT.map("https://".__add__)))
def test_callback_url_any_text_is_accepted_or_refused_with_its_typed_error(text: str) -> None:
    """Whatever the text, the constructor returns a value or raises InvalidCallbackUrlError."""
    try:
        outcome = str(CallbackUrl(text))
    except InvalidCallbackUrlError as error:
        outcome = f"refused: {error.field}"
    assert outcome in {text, "refused: callback_url"}


# --------------------------------------------------------------------------- strategies

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
TOP_LEVEL = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
PCHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@"
SEGMENT = (
    st.lists(
        st.one_of(st.sampled_from(PCHARS), st.integers(0, 255).map(lambda b: f"%{b:02X}")),
        max_size=6,
    )
    .map("".join)
    .filter(lambda s: s.lower() not in {".", "..", "%2e", ".%2e", "%2e.", "%2e%2e"})
)
PATH = st.lists(SEGMENT, max_size=4).map(lambda segments: "/" + "/".join(segments))
PUBLIC_HOST = st.builds(
    lambda labels, top: ".".join([*labels, top]), st.lists(LABEL, max_size=3), TOP_LEVEL
)
LOOPBACK_HOST = st.one_of(
    st.just("localhost"),
    st.just("[::1]"),
    st.ip_addresses(v=4, network="127.0.0.0/8").map(str),
)


def _urls(scheme: str, hosts: st.SearchStrategy[str], default: int) -> st.SearchStrategy[str]:
    ports = st.none() | st.integers(1, 65535).filter(lambda port: port != default)
    return st.builds(
        lambda host, port, path: f"{scheme}://{host}{'' if port is None else f':{port}'}{path}",
        hosts,
        ports,
        PATH,
    )


CALLBACK_URLS = st.one_of(_urls("https", PUBLIC_HOST, 443), _urls("http", LOOPBACK_HOST, 80))


@given(CALLBACK_URLS)
def test_callback_url_accepts_every_url_of_the_rules(url: str) -> None:
    """Every https URL, and every loopback http URL, with a browser-kept form is accepted."""
    assert url == str(CallbackUrl(url))


# --------------------------------------------------------------------------- authorize_url


def test_authorize_url_has_exactly_the_platforms_parameters() -> None:
    """The platform's URL: its endpoint, then exactly these parameters, in this order."""
    url = authorize_url("12345678", REDIRECT, STATE)
    parts = urlsplit(url)
    expected = [
        ("response_type", "code"),
        ("force_auth", "true"),
        ("redirect_uri", REDIRECT),
        ("client_id", "12345678"),
        ("state", STATE),
    ]
    assert ("https", "api-sg.aliexpress.com", "/oauth/authorize", "") == (
        parts.scheme,
        parts.netloc,
        parts.path,
        parts.fragment,
    )
    assert expected == parse_qsl(parts.query, strict_parsing=True)


def test_authorize_url_encodes_the_redirect_uri_as_one_parameter() -> None:
    """'/', ':' and the rest of the redirect URI are percent-encoded, never left bare."""
    url = authorize_url(AppKey("12345678"), CallbackUrl("https://a.example/x&y=1;z"), STATE)
    assert "redirect_uri=https%3A%2F%2Fa.example%2Fx%26y%3D1%3Bz&client_id=12345678" in url


def test_authorize_url_adds_the_uuid_when_given() -> None:
    """The platform's optional uuid parameter comes last."""
    url = authorize_url("12345678", REDIRECT, STATE, uuid="device 7")
    assert ("uuid", "device 7") == parse_qsl(urlsplit(url).query)[-1]


def test_authorize_url_uses_another_base_when_given() -> None:
    """A simulator's endpoint replaces the platform's."""
    url = authorize_url("12345678", REDIRECT, STATE, base="http://127.0.0.1:8080/oauth/authorize")
    assert url.startswith("http://127.0.0.1:8080/oauth/authorize?response_type=code&")


def test_authorize_url_refuses_a_bad_base() -> None:
    """The base follows the callback URL's rules: https (or loopback http), no query."""
    with pytest.raises(InvalidCallbackUrlError) as caught:
        authorize_url("12345678", REDIRECT, STATE, base="http://evil.example/authorize")
    assert "base" == caught.value.field


def test_authorize_url_refuses_a_bad_app_key() -> None:
    """client_id is an appKey: ASCII letters and digits."""
    with pytest.raises(InvalidCredentialError):
        authorize_url("12 34", REDIRECT, STATE)


def test_authorize_url_refuses_a_bad_callback() -> None:
    """redirect_uri is a CallbackUrl."""
    with pytest.raises(InvalidCallbackUrlError):
        authorize_url("12345678", "http://example.com/cb", STATE)


@pytest.mark.parametrize("state", ["", "short", secrets.token_urlsafe(15), STATE + "+", None])
def test_authorize_url_refuses_a_state_new_state_could_not_make(state: Any) -> None:
    """The state is at least 22 token_urlsafe characters (128 bits); it is never shown."""
    with pytest.raises(ValidationError) as caught:
        authorize_url("12345678", REDIRECT, state)
    assert ("state", None) == (caught.value.field, caught.value.value)
    if state:
        assert state not in str(caught.value)


@given(CALLBACK_URLS)
def test_authorize_url_carries_any_callback_url_unchanged(url: str) -> None:
    """Decoded, the redirect_uri parameter is the registered callback URL, by character."""
    query = urlsplit(authorize_url("12345678", url, STATE)).query
    assert url == dict(parse_qsl(query, strict_parsing=True))["redirect_uri"]


# --------------------------------------------------------------------------- the state


def test_new_state_has_at_least_128_random_bits() -> None:
    """new_state is secrets.token_urlsafe(32): 43 URL-safe characters of 6 bits each."""
    state = new_state()
    assert (43, True, True) == (len(state), URLSAFE.issuperset(state), 6 * len(state) >= 128)


def test_new_state_is_new_every_time() -> None:
    """A thousand states are a thousand different states."""
    assert 1000 == len({new_state() for _ in range(1000)})


def test_a_state_of_128_bits_is_accepted_and_of_120_refused() -> None:
    """token_urlsafe(16) (22 characters) is the least a request takes; token_urlsafe(15) is not."""
    assert APP == start(secrets.token_urlsafe(16)).app_id
    with pytest.raises(ValidationError, match="at least 128 random bits"):
        start(secrets.token_urlsafe(15))


def test_the_request_keeps_only_the_digest_of_its_state() -> None:
    """A stored request holds no bearer secret: the state's SHA-256, not the state."""
    request = start()
    assert STATE not in repr(request)
    assert 64 == len(request.state_digest)
    assert request.state_digest == callback_state_digest(callback())


def test_callback_state_digest_of_a_callback_without_a_state_is_a_missing_state() -> None:
    """Looking a request up needs the callback's state."""
    with pytest.raises(InvalidStateError) as caught:
        callback_state_digest(callback(state=None))  # type: ignore[arg-type]
    assert "missing" == caught.value.reason


# --------------------------------------------------------------------------- the request


def test_the_request_expires_ten_minutes_after_it_starts_by_default() -> None:
    """A state is short-lived: 10 minutes unless configured."""
    request = start()
    assert (T0, T0 + timedelta(minutes=10), None) == (
        request.created_at,
        request.expires_at,
        request.used_at,
    )


def test_the_request_lifetime_is_configurable() -> None:
    """Another lifetime, up to one hour, sets expires_at."""
    assert T0 + timedelta(hours=1) == start(lifetime=timedelta(hours=1)).expires_at


@pytest.mark.parametrize(
    "lifetime", [timedelta(0), timedelta(seconds=-1), timedelta(hours=1, microseconds=1)]
)
def test_the_request_lifetime_is_more_than_zero_and_at_most_an_hour(lifetime: timedelta) -> None:
    """A state that never expires, or lives for hours, is not short-lived."""
    with pytest.raises(ValidationError, match="at most 1 hour") as caught:
        start(lifetime=lifetime)
    assert "expires_at" == caught.value.field


def test_the_request_refuses_a_naive_now() -> None:
    """Time is timezone-aware."""
    with pytest.raises(InvalidDateTimeError):
        start(now=datetime(2025, 3, 1, 12, 0))


def test_the_request_refuses_a_bad_redirect_uri() -> None:
    """The redirect URI is a CallbackUrl."""
    with pytest.raises(InvalidCallbackUrlError):
        start(redirect_uri="http://example.com/cb")


# --------------------------------------------------------------------------- check_callback


def test_check_callback_returns_the_code() -> None:
    """The registered URI, this request's state, for its app, in time: the code."""
    assert CODE == start().check_callback(callback(), app_id=APP, now=T0)


def test_check_callback_ignores_parameters_it_does_not_read() -> None:
    """The platform may add parameters of its own."""
    url = callback(sp="ae", extra="1") + "&extra=2"
    assert CODE == start().check_callback(url, app_id=APP, now=T0)


def test_check_callback_changes_nothing() -> None:
    """Checking does not use the request: only `used` does."""
    request = start()
    request.check_callback(callback(), app_id=APP, now=T0)
    assert start() == request


@pytest.mark.parametrize(
    "received",
    [
        "https://shop.example.com/aliexpress/callbacK",  # one character
        "https://shop.example.com/aliexpress/callback/",  # a trailing slash
        "https://shop.example.com/AliExpress/callback",  # the case of the path
        "https://shop.example.com:8443/aliexpress/callback",  # another port
        "http://shop.example.com/aliexpress/callback",  # another scheme
        "https://evil.example.com/aliexpress/callback",  # another host
        "https://shop.example.com/aliexpress/callback/../callback",
    ],
)
def test_check_callback_refuses_a_callback_not_at_the_registered_uri(received: str) -> None:
    """Before its query, the callback URL equals the registered redirect URI exactly."""
    with pytest.raises(CallbackMismatchError) as caught:
        start().check_callback(callback(received), app_id=APP, now=T0)
    assert (REDIRECT, received) == (caught.value.expected, caught.value.received)


def test_check_callback_refuses_an_error_parameter_as_denied() -> None:
    """error=access_denied: the seller refused; the platform's error and description are kept."""
    url = callback(code=None, error="access_denied", error_description="user denied")  # type: ignore[arg-type]
    with pytest.raises(AuthorizationDeniedError) as caught:
        start().check_callback(url, app_id=APP, now=T0)
    assert ("access_denied", "user denied") == (caught.value.error, caught.value.description)


def test_check_callback_refuses_an_error_parameter_even_with_a_code() -> None:
    """An error wins over a code, and an empty error is an error: fail closed."""
    with pytest.raises(AuthorizationDeniedError) as caught:
        start().check_callback(callback(error=""), app_id=APP, now=T0)
    assert ("", None) == (caught.value.error, caught.value.description)


@pytest.mark.parametrize("url", [callback(state=None), callback(state=""), REDIRECT])  # type: ignore[arg-type]
def test_check_callback_refuses_a_missing_state(url: str) -> None:
    """No state (or an empty one) is refused."""
    with pytest.raises(InvalidStateError) as caught:
        start().check_callback(url, app_id=APP, now=T0)
    assert "missing" == caught.value.reason


@pytest.mark.parametrize("state", [new_state(), STATE[:-1], STATE + "x", STATE.lower()])
def test_check_callback_refuses_a_foreign_state(state: str) -> None:
    """Another request's state, or this one's one character off, is foreign."""
    with pytest.raises(InvalidStateError) as caught:
        start().check_callback(callback(state=state), app_id=APP, now=T0)
    assert "foreign" == caught.value.reason


def test_check_callback_compares_the_state_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The state is compared with hmac.compare_digest."""
    calls: list[tuple[str, str]] = []
    real: Callable[[str, str], bool] = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    request = start()
    request.check_callback(callback(), app_id=APP, now=T0)
    assert [(request.state_digest, request.state_digest)] == calls


def test_check_callback_refuses_the_state_of_another_app() -> None:
    """A state is bound to its app: the right state at another app's endpoint is refused."""
    with pytest.raises(InvalidStateError) as caught:
        start().check_callback(callback(), app_id="app-2", now=T0)
    assert "other_app" == caught.value.reason


def test_check_callback_refuses_a_reused_state() -> None:
    """A state is single-use: once the request is used, its callback is refused."""
    used = start().used(T0 + timedelta(minutes=1))
    with pytest.raises(StateReusedError) as caught:
        used.check_callback(callback(), app_id=APP, now=T0 + timedelta(minutes=2))
    assert T0 + timedelta(minutes=1) == caught.value.used_at


@pytest.mark.parametrize("late", [timedelta(minutes=10), timedelta(days=1)])
def test_check_callback_refuses_an_expired_request(late: timedelta) -> None:
    """At expires_at and after, the callback is refused."""
    with pytest.raises(AuthorizationExpiredError) as caught:
        start().check_callback(callback(), app_id=APP, now=T0 + late)
    assert (T0 + timedelta(minutes=10), T0 + late) == (caught.value.expires_at, caught.value.now)


def test_check_callback_accepts_a_callback_just_before_expiry() -> None:
    """A microsecond before expires_at is still in time."""
    now = T0 + timedelta(minutes=10, microseconds=-1)
    assert CODE == start().check_callback(callback(), app_id=APP, now=now)


@pytest.mark.parametrize("code", [None, "", "a\nb"])
def test_check_callback_refuses_a_missing_code(code: str | None) -> None:
    """No code, an empty one or one with control characters is refused, as bad input."""
    with pytest.raises(InvalidCallbackError) as caught:
        start().check_callback(callback(code=code), app_id=APP, now=T0)  # type: ignore[arg-type]
    assert ("code", None) == (caught.value.field, caught.value.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("twice", "field"),
    [
        (f"code={CODE}&state={STATE}&code=other", "code"),
        (f"state={STATE}&code={CODE}&state={STATE}", "state"),
        (f"state={STATE}&code={CODE}&error=a&error=b", "error"),
        (f"state={STATE}&code={CODE}&error_description=a&error_description=", "error_description"),
    ],
)
def test_check_callback_refuses_duplicate_parameters(twice: str, field: str) -> None:
    """Two codes or two states make the callback ambiguous: refused, naming the parameter."""
    with pytest.raises(InvalidCallbackError) as caught:
        start().check_callback(f"{REDIRECT}?{twice}", app_id=APP, now=T0)
    assert (field, "must appear at most once") == (caught.value.field, caught.value.rule)


def test_check_callback_accepts_8192_characters_and_refuses_8193() -> None:
    """A callback URL has at most 8 KiB, so that reading one has a bounded cost."""
    base = callback() + "&pad="
    longest = base + "x" * (8192 - len(base))
    assert CODE == start().check_callback(longest, app_id=APP, now=T0)
    with pytest.raises(InvalidCallbackError, match="at most 8192 characters, has 8193"):
        start().check_callback(longest + "x", app_id=APP, now=T0)


def test_check_callback_refuses_a_million_characters_at_once() -> None:
    """A huge URL is refused by its length, before anything reads it."""
    with pytest.raises(InvalidCallbackError, match="has 1000000"):
        start().check_callback("&" * 1_000_000, app_id=APP, now=T0)


def test_check_callback_refuses_more_than_64_parameters() -> None:
    """A query of thousands of empty parameters is refused, not parsed into a big dict."""
    with pytest.raises(InvalidCallbackError, match="at most 64 parameters"):
        start().check_callback(callback() + "&" * 4000, app_id=APP, now=T0)


def test_check_callback_refuses_an_undecodable_query() -> None:
    """A percent-escape that is not UTF-8 is refused (the decoder's error holds none of it)."""
    with pytest.raises(InvalidCallbackError) as caught:
        start().check_callback(callback(code="x") + "%ff", app_id=APP, now=T0)
    assert (None, None) == (caught.value.__cause__, caught.value.__context__)


def test_check_callback_refuses_a_fragment() -> None:
    """A browser never sends a fragment: a callback URL with one is not what arrived."""
    with pytest.raises(InvalidCallbackError, match="no fragment"):
        start().check_callback(callback() + "#x", app_id=APP, now=T0)


@pytest.mark.parametrize("url", [None, b"https://x/", 42])
def test_check_callback_refuses_a_url_that_is_not_text(url: Any) -> None:
    """The callback URL is text."""
    with pytest.raises(InvalidCallbackError, match="must be text"):
        start().check_callback(url, app_id=APP, now=T0)


def test_check_callback_refuses_a_naive_now() -> None:
    """Time is timezone-aware."""
    with pytest.raises(InvalidDateTimeError):
        start().check_callback(callback(), app_id=APP, now=datetime(2025, 3, 1, 12, 0))


CODES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=200).filter(str.isprintable)


@given(code=CODES, state_bytes=st.binary(min_size=16, max_size=64), url=CALLBACK_URLS)
def test_check_callback_returns_any_code_of_a_callback_built_from_the_request(
    code: str, state_bytes: bytes, url: str
) -> None:
    """Registered URI, the request's state, any printable code: that code comes back."""
    state = secrets.token_urlsafe(len(state_bytes))
    request = start(state, redirect_uri=url)
    received = f"{url}?{urlencode({'code': code, 'state': state})}"
    assert code == request.check_callback(received, app_id=APP, now=T0)


@given(st.one_of(st.text(max_size=300), st.text(max_size=200).map(f"{REDIRECT}?".__add__)))
def test_check_callback_of_any_text_returns_a_code_or_raises_a_typed_error(text: str) -> None:
    """Whatever arrives, the answer is a code or an AuthorizationError; never another error."""
    try:
        start().check_callback(text, app_id=APP, now=T0)
    except AuthorizationError:
        pass


# --------------------------------------------------------------------------- used


def test_used_marks_the_request_completed() -> None:
    """used(now) returns the request with used_at set; the original is unchanged."""
    request = start()
    assert (T0 + timedelta(minutes=1), None) == (
        request.used(T0 + timedelta(minutes=1)).used_at,
        request.used_at,
    )


def test_used_twice_is_refused_as_reused() -> None:
    """A request completes once."""
    used = start().used(T0)
    with pytest.raises(StateReusedError):
        used.used(T0 + timedelta(seconds=1))


def test_used_before_the_request_started_is_refused() -> None:
    """used_at is not before created_at."""
    with pytest.raises(ValidationError, match="must not be before created_at"):
        start().used(T0 - timedelta(seconds=1))


# --------------------------------------------------------------------------- secrets


def _failures() -> list[OnboardingError]:
    """One error from every refusal check_callback and its helpers can make."""
    request = start()
    attempts: list[tuple[AuthorizationRequest, str, str, datetime]] = [
        (request, callback("https://evil.example/cb"), APP, T0),
        (request, callback(state=STATE + "x"), APP, T0),
        (request, callback(), "app-2", T0),
        (request.used(T0), callback(), APP, T0),
        (request, callback(), APP, T0 + timedelta(hours=1)),
        (request, callback(error="access_denied"), APP, T0),
        (request, callback(code="a\tb"), APP, T0),
        (request, callback() + f"&code={CODE}&state={STATE}", APP, T0),
        (request, callback() + "%ff", APP, T0),
        (request, callback() + "#" + STATE, APP, T0),
        (request, callback() + "x" * 9000, APP, T0),
    ]
    errors: list[OnboardingError] = []
    for req, url, app_id, now in attempts:
        with pytest.raises(OnboardingError) as caught:
            req.check_callback(url, app_id=app_id, now=now)
        errors.append(caught.value)
    for bad_state in (STATE + "+", STATE[:10]):
        with pytest.raises(OnboardingError) as caught:
            start(bad_state)
        errors.append(caught.value)
    return errors


def test_reprs_and_errors_never_show_the_state_or_the_code() -> None:
    """The state and the code are bearer secrets: never in a repr, a message or an attribute."""
    request = start()
    texts = [repr(request), str(request), repr(request.used(T0))]
    for error in _failures():
        texts += [str(error), repr(error), repr(error.args), repr(vars(error))]
    leaks = [text for text in texts if STATE[:10] in text or CODE in text]
    assert [] == leaks
    assert 13 == len(_failures())  # the audit looked at every refusal
