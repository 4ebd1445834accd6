"""Signing API calls: the platform's rule, checked against a separately written reference.

`reference_string` / `reference_sign` below are deliberately plain and built differently from
`aliexpress_onboarding.signing` (an explicit loop over the items sorted by their names' UTF-8
bytes, string concatenation, ``hmac.new(...).hexdigest().upper()``). The known-answer vectors
(`KNOWN_ANSWERS`) were computed once with that reference and checked with
``printf '%s' '<string to sign>' | openssl dgst -sha256 -hmac '<secret>'``; the first one is the
platform's own published example.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliexpress_onboarding.domain.values import AppKey, AppSecret
from aliexpress_onboarding.errors import ValidationError
from aliexpress_onboarding.signing import (
    ParamValue,
    sign_request,
    signed_params,
    string_to_sign,
)

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN_CREATE = "/auth/token/create"
TOKEN_PARAMS: dict[str, ParamValue] = {
    "app_key": "12345678",
    "code": "3_500102_JxZ05Ux3cnnSSUm6dCxYg6Q26",
    "sign_method": "sha256",
    "timestamp": "1700000000000",
}


def reference_string(api: str, params: Mapping[str, ParamValue]) -> str:
    text = api if api.startswith("/") else ""
    for name, value in sorted(params.items(), key=lambda kv: kv[0].encode("utf-8")):
        if name == "sign" or isinstance(value, (bytes, bytearray, memoryview)):
            continue
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        text += name + str(value)
    return text


def reference_sign(api: str, params: Mapping[str, ParamValue], secret: str) -> str:
    message = reference_string(api, params).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest().upper()


KNOWN_ANSWERS = [
    pytest.param(
        "/order/get",
        {
            "access_token": "test",
            "app_key": "123456",
            "order_id": "1234",
            "sign_method": "sha256",
            "timestamp": "1517820392000",
        },
        "helloworld",
        "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A",
        # The platform's "HTTP request sample" page: its text names /orders/{orderId}, but its
        # published digest is the one of this string, with /order/get in front.
        id="platform-sample",
    ),
    pytest.param(
        TOKEN_CREATE,
        TOKEN_PARAMS,
        SECRET,
        "473C7ACA12EA20BBDAA9462CE27E2D3B06E9D67847641E0C28F830BAFF4F43D0",
        id="token-create",
    ),
    pytest.param(
        "aliexpress.solution.product.list.get",
        {
            "method": "aliexpress.solution.product.list.get",
            "app_key": "12345678",
            "session": "token",
            "sign_method": "sha256",
            "timestamp": "1700000000000",
            "simplify": True,
            "page_size": 20,
            "sign": "OLD",
            "image": b"\x89PNG",
            "note": None,
            "empty": "",
        },
        SECRET,
        "3F54D49186E7F4AB2F3412113B8451BE375D07B16EEB19929925BB0AF09BCACF",
        id="method-style-with-everything-left-out",
    ),
    pytest.param(
        "/product/update",
        {"title": "Café — 咖啡", "ñame": "x", "Zeta": "1", "alpha": "2"},
        "secret-with-ünïcode",
        "E64810EEBD1638B87BA3117A8A2442774E66D79A0D2B012BAA0D127B106B6BC5",
        id="non-ascii",
    ),
]


@pytest.mark.parametrize(("api", "params", "secret", "expected"), KNOWN_ANSWERS)
def test_known_answers(api: str, params: dict[str, ParamValue], secret: str, expected: str) -> None:
    """Fixed vectors, the platform's published one among them, sign to their known answers."""
    assert expected == sign_request(api, params, secret)
    assert expected == reference_sign(api, params, secret)


def test_platform_example_string() -> None:
    """The platform's signature page example concatenates to its published string."""
    params = {"foo": 1, "bar": 2, "foo_bar": 3, "foobar": 4}
    assert "/test/apibar2foo1foo_bar3foobar4" == string_to_sign("/test/api", params)


names = st.one_of(
    st.sampled_from(["sign", "app_key", "appKey", "Z", "a", "timestamp", "ñ", "咖啡"]),
    st.text(min_size=1, max_size=12),
)
values = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=20),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=20),
    st.integers(),
    st.booleans(),
    st.binary(max_size=8),
    st.binary(max_size=8).map(bytearray),
    st.binary(max_size=8).map(lambda data: memoryview(data)),
)
apis = st.one_of(
    st.sampled_from([TOKEN_CREATE, "/orders/{orderId}", "aliexpress.solution.product.list.get"]),
    st.text(min_size=1, max_size=20),
)


@given(api=apis, params=st.dictionaries(names, values, max_size=12), secret=st.text(min_size=1))
def test_sign_request_matches_the_reference(
    api: str, params: dict[str, ParamValue], secret: str
) -> None:
    """For any request, the signature and the string to sign are the reference's."""
    assert reference_string(api, params) == string_to_sign(api, params)
    assert reference_sign(api, params, secret) == sign_request(api, params, secret)


def test_rest_api_path_goes_in_front() -> None:
    """A REST API (a name starting with /) puts its path in front of the parameters."""
    assert "/auth/token/createcodeabc" == string_to_sign(TOKEN_CREATE, {"code": "abc"})


def test_method_style_api_puts_nothing_in_front() -> None:
    """A method-style API puts nothing in front; its name is signed as the method parameter."""
    api = "aliexpress.solution.product.list.get"
    assert f"method{api}page1" == string_to_sign(api, {"method": api, "page": 1})


def test_path_parameters_are_signed_by_name_under_the_path_template() -> None:
    """A parameter that sits in the path is signed by its name, after the path template."""
    signed = string_to_sign("/orders/{orderId}", {"order_id": "1234", "app_key": "1"})
    assert "/orders/{orderId}app_key1order_id1234" == signed


def test_names_sort_in_ascii_order() -> None:
    """Names sort by character code: Z before a, appKey before app_key, foo before foo_bar."""
    params = {"a": "1", "app_key": "2", "appKey": "3", "Z": "4", "foo_bar": "5", "foo": "6"}
    assert "Z4a1appKey3app_key2foo6foo_bar5" == string_to_sign("x.y", params)


def test_non_ascii_names_sort_by_their_utf8_bytes() -> None:
    """Beyond ASCII, names sort as their UTF-8 bytes do (which is code point order)."""
    params = {"é": "1", "z": "2", "中": "3", "\U0001f600": "4", "\uffff": "5"}
    expected = sorted(params, key=lambda name: name.encode("utf-8"))
    assert "".join(name + params[name] for name in expected) == string_to_sign("x", params)


def test_sign_parameter_is_excluded() -> None:
    """The sign parameter itself is never signed, whatever it holds."""
    assert string_to_sign("x", {"a": "1"}) == string_to_sign("x", {"a": "1", "sign": "ABC"})
    assert string_to_sign("x", {"a": "1"}) == string_to_sign("x", {"a": "1", "sign": 2.5})  # type: ignore[dict-item]


@pytest.mark.parametrize("upload", [b"\x89PNG", bytearray(b"data"), memoryview(b"data"), b""])
def test_byte_array_parameters_are_excluded(upload: bytes | bytearray | memoryview) -> None:
    """File uploads (bytes, bytearray, memoryview) are left out of the signature."""
    assert "a1" == string_to_sign("x", {"a": "1", "image": upload})


@pytest.mark.parametrize("empty", [None, ""])
def test_empty_values_are_excluded(empty: str | None) -> None:
    """A parameter whose value is None or "" is left out, its name included."""
    assert "a1" == string_to_sign("x", {"a": "1", "note": empty})


@pytest.mark.parametrize("kept", [" ", "0", 0, False])
def test_only_none_and_empty_text_are_empty(kept: ParamValue) -> None:
    """Blank text, zero and False are values, and are signed."""
    assert string_to_sign("x", {"a": kept}).startswith("a")


def test_booleans_are_signed_as_lowercase_words() -> None:
    """True and False are signed as true and false, as the platform's SDKs send them."""
    assert "afalsebtrue" == string_to_sign("x", {"a": False, "b": True})


def test_ints_are_signed_in_decimal() -> None:
    """Ints are signed in plain decimal."""
    assert "a-7b20" == string_to_sign("x", {"a": -7, "b": 20})


def test_text_and_int_subclasses_count_as_their_plain_value() -> None:
    """A StrEnum or IntEnum member is signed as its value, not as its name."""

    class Colour(enum.StrEnum):
        RED = "red"

    class Size(enum.IntEnum):
        BIG = 3

    assert "colourredsize3" == string_to_sign("x", {"colour": Colour.RED, "size": Size.BIG})


def test_signature_is_uppercase_hex() -> None:
    """The signature is 64 uppercase hexadecimal characters."""
    assert re.fullmatch(r"[0-9A-F]{64}", sign_request(TOKEN_CREATE, TOKEN_PARAMS, SECRET))


@given(name=st.sampled_from(sorted(TOKEN_PARAMS)), new=st.text(min_size=1, max_size=20))
def test_a_changed_parameter_changes_the_signature(name: str, new: str) -> None:
    """Changing any signed parameter's value changes the signature."""
    changed = {**TOKEN_PARAMS, name: new}
    if new != TOKEN_PARAMS[name]:
        assert sign_request(TOKEN_CREATE, TOKEN_PARAMS, SECRET) != sign_request(
            TOKEN_CREATE, changed, SECRET
        )


def test_a_changed_secret_changes_the_signature() -> None:
    """Another secret gives another signature."""
    other = SECRET[::-1]
    assert sign_request(TOKEN_CREATE, TOKEN_PARAMS, SECRET) != sign_request(
        TOKEN_CREATE, TOKEN_PARAMS, other
    )


def test_secret_never_appears_in_the_string_to_sign() -> None:
    """The appSecret is the HMAC key only: it is not part of the signed text."""
    request = signed_params(
        TOKEN_CREATE, TOKEN_PARAMS, app_key="12345678", secret=SECRET, timestamp_ms=1
    )
    assert SECRET not in string_to_sign(TOKEN_CREATE, request)


def test_app_secret_and_its_text_sign_alike() -> None:
    """An AppSecret signs exactly as its revealed text does."""
    assert sign_request(TOKEN_CREATE, TOKEN_PARAMS, SECRET) == sign_request(
        TOKEN_CREATE, TOKEN_PARAMS, AppSecret(SECRET)
    )


def test_large_values_are_signed_like_the_reference() -> None:
    """Megabyte values and thousands of parameters sign as the reference does."""
    params: dict[str, ParamValue] = {f"p{i}": f"v{i}" for i in range(5000)}
    params["big"] = "x" * 1_000_000
    assert reference_sign(TOKEN_CREATE, params, SECRET) == sign_request(
        TOKEN_CREATE, params, SECRET
    )


# --------------------------------------------------------------------------- signed_params


def sign_token_create(**params: ParamValue) -> dict[str, str | bytes | bytearray | memoryview]:
    return signed_params(
        TOKEN_CREATE, params, app_key="12345678", secret=SECRET, timestamp_ms=1700000000000
    )


def test_signed_params_adds_the_three_system_params_and_a_sign_that_verifies() -> None:
    """app_key, timestamp (epoch ms, as text) and sign_method=sha256 are added, then a sign
    computed over all of them."""
    request = sign_token_create(code="3_500102_JxZ05Ux3cnnSSUm6dCxYg6Q26")
    assert {**TOKEN_PARAMS, "sign": request["sign"]} == request
    assert reference_sign(TOKEN_CREATE, TOKEN_PARAMS, SECRET) == request["sign"]


def test_signed_params_takes_value_objects() -> None:
    """An AppKey and an AppSecret sign as their text does."""
    request = signed_params(
        TOKEN_CREATE,
        {"code": TOKEN_PARAMS["code"]},
        app_key=AppKey("12345678"),
        secret=AppSecret(SECRET),
        timestamp_ms=1700000000000,
    )
    assert sign_token_create(code=TOKEN_PARAMS["code"]) == request


def test_signed_params_sends_what_it_signed() -> None:
    """Values come back as the signed text, and empty ones are left out of the request too."""
    request = sign_token_create(simplify=True, page=2, note=None, empty="")
    assert ("true", "2") == (request["simplify"], request["page"])
    assert not {"note", "empty"} & set(request)


def test_signed_params_keeps_files_but_does_not_sign_them() -> None:
    """A file parameter stays in the request, unsigned."""
    request = sign_token_create(code="abc", image=b"\x89PNG")
    assert b"\x89PNG" == request["image"]
    assert sign_token_create(code="abc")["sign"] == request["sign"]


def test_signed_params_replaces_given_system_params_and_sign() -> None:
    """System parameters and a stale sign given among the params are replaced."""
    request = sign_token_create(code="abc", app_key="other", timestamp="5", sign="STALE")
    assert sign_token_create(code="abc") == request


def test_signed_params_leaves_its_input_unchanged() -> None:
    """The caller's mapping is not changed."""
    params: dict[str, ParamValue] = {"code": "abc", "note": None}
    signed_params(TOKEN_CREATE, params, app_key="1", secret=SECRET, timestamp_ms=0)
    assert {"code": "abc", "note": None} == params


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "params",
    [{1: "x"}, {1: "x", "a": "y"}, {"": "x"}, {None: "x", "a": "y"}, {b"a": "x"}],
)
def test_non_text_or_empty_names_are_refused(params: dict[object, object]) -> None:
    """Parameter names must be non-empty text."""
    with pytest.raises(ValidationError, match="parameter names must be non-empty text") as caught:
        string_to_sign("x", params)  # type: ignore[arg-type]
    assert "params" == caught.value.field


@pytest.mark.parametrize("bad", [1.5, {"nested": "dict"}, ["a"], object()])
def test_other_value_types_are_refused_naming_the_parameter(bad: object) -> None:
    """A float, a dict, a list … is a ValidationError naming the parameter."""
    with pytest.raises(ValidationError, match=r"params\['price'\]: must be text") as caught:
        sign_request("x", {"ok": "1", "price": bad}, SECRET)  # type: ignore[dict-item]
    assert ("params['price']", bad) == (caught.value.field, caught.value.value)


def test_a_refused_credential_value_is_never_shown() -> None:
    """An error about an access token's value keeps the value out of the message."""
    with pytest.raises(ValidationError) as caught:
        string_to_sign("x", {"access_token": 12345.678})  # type: ignore[dict-item]
    assert caught.value.value is None
    assert "12345" not in str(caught.value)


def test_a_lone_surrogate_is_refused_naming_the_parameter() -> None:
    """Text with no UTF-8 form cannot be signed; the error names the parameter."""
    with pytest.raises(ValidationError, match="lone surrogate") as caught:
        sign_request("x", {"a": "1", "title": "bad\ud800"}, SECRET)
    assert "params['title']" == caught.value.field
    with pytest.raises(ValidationError, match="lone surrogate"):
        string_to_sign("/x\udfff", {"a": "1"})


def test_an_int_too_long_to_write_is_refused() -> None:
    """An int with more digits than Python writes out is refused, not crashed on."""
    with pytest.raises(ValidationError, match=r"params\['n'\]: is an int too long"):
        string_to_sign("x", {"n": 10**5000})


@pytest.mark.parametrize("api", ["", None, 7])
def test_an_api_name_must_be_text(api: object) -> None:
    """The API name is non-empty text."""
    with pytest.raises(ValidationError, match="api"):
        string_to_sign(api, {})  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", ["", None, b"bytes-secret", "bad\ud800secret"])
def test_a_bad_secret_is_refused_without_showing_it(secret: object) -> None:
    """A secret must be an AppSecret or non-empty text; the error never carries it."""
    with pytest.raises(ValidationError) as caught:
        sign_request("x", {}, secret)  # type: ignore[arg-type]
    assert ("secret", None) == (caught.value.field, caught.value.value)
    assert caught.value.__context__ is None
    assert "bytes-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("keywords", "field"),
    [
        ({"app_key": ""}, "app_key"),
        ({"app_key": 5}, "app_key"),
        ({"timestamp_ms": -1}, "timestamp_ms"),
        ({"timestamp_ms": 1.7e12}, "timestamp_ms"),
        ({"timestamp_ms": True}, "timestamp_ms"),
    ],
)
def test_signed_params_refuses_bad_system_values(keywords: dict[str, object], field: str) -> None:
    """The appKey is non-empty text and the timestamp a non-negative int of milliseconds."""
    arguments: dict[str, object] = {"app_key": "1", "secret": SECRET, "timestamp_ms": 0}
    with pytest.raises(ValidationError) as caught:
        signed_params(TOKEN_CREATE, {}, **{**arguments, **keywords})  # type: ignore[arg-type]
    assert field == caught.value.field
