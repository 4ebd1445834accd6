"""Signing AliExpress Open Platform API calls: pure functions of the request and the appSecret.

The platform's rule, as its "Signature algorithm" page states it and its SDKs apply it:

1. Take every request parameter, system (``app_key``, ``timestamp``, ``sign_method``,
   ``access_token``, …) and business, including the parameters that sit in the API path (by
   their name), but not ``sign`` itself and not byte-array (file upload) parameters.
2. Leave out parameters with empty values (``None`` or ``""``). The Java SDK leaves them out of
   the signed string, the Python SDK keeps them; `signed_params` leaves them out of the request
   too, so both readings give the same signature. Blank text (``" "``) is a value and is
   signed, though the Java SDK would leave it out too: better not to send any.
3. Sort by name in ASCII order. For any name this is Unicode code point order, which is the
   order of the names' UTF-8 bytes.
4. Concatenate each name and its value, with no separators.
5. For a REST API (its name starts with ``/``: ``/auth/token/create``, ``/orders/{orderId}``),
   put the API name in front, as the platform lists it (a path template stays a template).
   A method-style API (``aliexpress.solution.product.list.get``, called on the ``/sync``
   gateway) has nothing in front: its name travels as the ``method`` parameter, which is signed
   like any other, so the caller passes ``method`` among the parameters.
6. HMAC-SHA256 the UTF-8 bytes with the appSecret as the key; the signature is the digest in
   uppercase hexadecimal.

Values are rendered the way the platform's SDKs send them: text as it is, an ``int`` in decimal,
a ``bool`` as ``true`` or ``false`` (the Java SDK takes text only; the Python SDK sends its own
flags, ``simplify`` and ``debug``, so, though it would write a Python ``True`` as ``True``).
Anything else — a ``float``, a ``dict``, a ``datetime`` — is refused rather than guessed at
(``0.1`` and ``1e-05`` have more than one spelling). Checked against the platform's published
examples: API ``/test/api`` with ``foo=1, bar=2, foo_bar=3, foobar=4`` gives the string
``/test/apibar2foo1foo_bar3foobar4``, and its "HTTP request sample" signature is reproduced in
the tests. The cost is one sort of the names and one pass over the text, with no regular
expressions.

The appSecret never enters the string to sign, a ``repr`` or an error. Access tokens and
authorization codes are signed parameters and so do appear in `string_to_sign`'s result: show it
to the person who owns them only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from typing import Final, TypeAlias

from .domain.values import AppKey, AppSecret
from .errors import ValidationError, safe_repr

__all__ = ["ParamValue", "sign_request", "signed_params", "string_to_sign"]

ParamValue: TypeAlias = str | int | bool | bytes | bytearray | memoryview | None
"""What a request parameter may hold: text, an int, a bool, a file's bytes, or nothing."""

_BYTE_ARRAYS: Final = (bytes, bytearray, memoryview)
_SIGN: Final = "sign"
# Parameters whose values are credentials: an error about one never shows the value.
_CREDENTIALS: Final = frozenset({"access_token", "refresh_token", "code", "session"})
_VALUE_RULE: Final = "must be text, an int, a bool, bytes (a file) or None"
_NAME_RULE: Final = "parameter names must be non-empty text"


def string_to_sign(api: str, params: Mapping[str, ParamValue]) -> str:
    """The exact text `sign_request` signs, for reading and debugging; never holds the secret.

    Args:
        api: The API name: a REST path (``/auth/token/create``), which goes in front, or a
            method-style name (``aliexpress.solution.product.list.get``), which does not.
        params: Every request parameter, system and business, by name. ``sign``, byte arrays
            and empty values (``None``, ``""``) are left out.

    Returns:
        The API path (for REST APIs) followed by each name and value, sorted by name.

    Raises:
        ValidationError: ``api`` is not non-empty text, a parameter name is not non-empty text,
            a value is not a `ParamValue` (the error names the parameter), or a text holds a
            lone surrogate (it has no UTF-8 form).
    """
    message = _message(api, params)
    _utf8(message, api, params)
    return message


def sign_request(api: str, params: Mapping[str, ParamValue], secret: AppSecret | str) -> str:
    """The platform signature of a request: HMAC-SHA256 of `string_to_sign`, uppercase hex.

    Args:
        api: The API name: a REST path (``/auth/token/create``), which goes in front, or a
            method-style name (``aliexpress.solution.product.list.get``), which does not.
        params: Every request parameter, system and business, by name. ``sign``, byte arrays
            and empty values (``None``, ``""``) are left out.
        secret: The app's appSecret, as an `AppSecret` or as text.

    Returns:
        64 uppercase hexadecimal characters, the value of the request's ``sign`` parameter.

    Raises:
        ValidationError: the secret is not an `AppSecret` or non-empty text (its value is never
            shown), or ``api`` or ``params`` are refused as by `string_to_sign`.
    """
    key = _key(secret)
    message = _message(api, params)
    return hmac.new(key, _utf8(message, api, params), hashlib.sha256).hexdigest().upper()


def signed_params(
    api: str,
    params: Mapping[str, ParamValue],
    *,
    app_key: AppKey | str,
    secret: AppSecret | str,
    timestamp_ms: int,
) -> dict[str, str | bytes | bytearray | memoryview]:
    """The parameters to send: ``params`` with the system parameters and the ``sign`` added.

    Adds ``app_key``, ``timestamp`` and ``sign_method=sha256`` (replacing any given), then
    ``sign`` computed over everything (replacing any given). Values come back as the text that
    was signed (``True`` as ``"true"``), so an HTTP client sends exactly what was signed; empty
    values are left out of the request as they are of the signature; byte arrays (files) are
    kept as they are. ``params`` itself is not changed.

    Args:
        api: The API name, as for `sign_request`.
        params: The request's own parameters: business ones, ``access_token`` when the call
            needs one, ``method`` for a method-style API.
        app_key: The app's appKey.
        secret: The app's appSecret, as an `AppSecret` or as text.
        timestamp_ms: The request time in milliseconds since the Unix epoch (the platform
            refuses requests far from its clock); passed in, so the function stays pure.

    Returns:
        A new dict: name → text, or the bytes of a file parameter.

    Raises:
        ValidationError: ``app_key`` is not an `AppKey` or non-empty text, ``timestamp_ms`` is
            not a non-negative int, or ``api``, ``params`` or ``secret`` are refused as by
            `sign_request`.
    """
    if isinstance(app_key, AppKey):
        app_key = app_key.value
    elif not isinstance(app_key, str) or not app_key:
        raise ValidationError("app_key", app_key, "must be an AppKey or non-empty text")
    if type(timestamp_ms) is not int or timestamp_ms < 0:
        raise ValidationError(
            "timestamp_ms", timestamp_ms, "must be a non-negative int: ms since the Unix epoch"
        )
    request: dict[str, str | bytes | bytearray | memoryview] = dict(_pairs(params))
    request.update(
        (name, value)
        for name, value in params.items()
        if isinstance(value, _BYTE_ARRAYS) and name != _SIGN
    )
    request.update(app_key=app_key, timestamp=str(timestamp_ms), sign_method="sha256")
    request[_SIGN] = sign_request(api, request, secret)
    return request


def _key(secret: AppSecret | str) -> bytes:
    """The HMAC key; refuses anything but an AppSecret or non-empty text, never showing it."""
    if isinstance(secret, AppSecret):
        return secret.reveal().encode()
    if isinstance(secret, str) and secret:
        try:
            return secret.encode()
        except UnicodeEncodeError:
            pass  # refused below, outside the handler: the encode error holds the secret
    raise ValidationError(
        "secret", None, "must be an AppSecret or non-empty Unicode text", secret=True
    )


def _message(api: str, params: Mapping[str, ParamValue]) -> str:
    """The string to sign, not yet checked for lone surrogates."""
    if not isinstance(api, str) or not api:
        raise ValidationError("api", api, "must be non-empty text: a REST path or a method name")
    return "".join(_parts(api if api[0] == "/" else "", params))


def _parts(prefix: str, params: Mapping[str, ParamValue]) -> list[str]:
    """The string to sign in pieces: ``prefix``, then each signed name and its text, in order.

    The names are sorted first, alone (comparing plain strings is the fastest sort there is),
    and each parameter is then rendered straight into one flat list: this loop is most of
    the cost of signing, so the common cases come first and take as few steps as possible.
    """
    try:
        names = sorted(params)
    except TypeError:  # names of several types: one at least is not text
        raise ValidationError("params", _non_text_name(params), _NAME_RULE) from None
    parts = [prefix]
    append = parts.append
    for name in names:
        value = params[name]
        if type(name) is str and name and name != _SIGN:
            if type(value) is str:
                if value:
                    append(name)
                    append(value)
                continue
            if type(value) is int:
                append(name)
                append(_decimal(name, value))
                continue
            if type(value) is bool:
                append(name)
                append("true" if value else "false")
                continue
            if value is None:
                continue
        pair = _unusual_pair(name, value)
        if pair is not None:
            parts += pair
    return parts


def _pairs(params: Mapping[str, ParamValue]) -> Iterator[tuple[str, str]]:
    """The signed ``(name, text)`` pairs, sorted by name."""
    parts = _parts("", params)
    return zip(parts[1::2], parts[2::2], strict=True)


def _non_text_name(params: Mapping[str, ParamValue]) -> object:
    return next((name for name in params if not isinstance(name, str)), None)


def _unusual_pair(name: object, value: object) -> tuple[str, str] | None:
    """Any other parameter as a signed pair, or ``None`` when it is not signed; refuses the rest.

    A subclass of ``str`` or ``int`` (a ``StrEnum``, an ``IntEnum``) counts as its plain value,
    whatever its ``__str__`` says.
    """
    if not isinstance(name, str) or not name:
        raise ValidationError("params", name, _NAME_RULE)
    name = str.__str__(name)
    if name == _SIGN or value is None or isinstance(value, _BYTE_ARRAYS):
        return None
    if isinstance(value, str):
        return (name, str.__str__(value)) if value else None
    if isinstance(value, bool):
        return name, "true" if value else "false"
    if isinstance(value, int):
        return name, _decimal(name, value)
    raise _bad_value(name, value, _VALUE_RULE)


def _decimal(name: str, value: int) -> str:
    try:
        return int.__repr__(value)
    except ValueError:  # more digits than Python writes out (sys.get_int_max_str_digits)
        raise _bad_value(name, value, "is an int too long to write out") from None


def _bad_value(name: str, value: object, rule: str) -> ValidationError:
    """The error for a refused value, naming the parameter; a credential's value is hidden."""
    return ValidationError(f"params[{safe_repr(name)}]", value, rule, secret=name in _CREDENTIALS)


def _utf8(message: str, api: str, params: Mapping[str, ParamValue]) -> bytes:
    """``message`` as UTF-8; a lone surrogate is refused, naming the parameter that holds it."""
    try:
        return message.encode()
    except UnicodeEncodeError:
        pass  # the culprit is found below, outside the handler, so nothing is chained
    rule = "must be valid Unicode text (it holds a lone surrogate)"
    if not _encodable(api):
        raise ValidationError("api", api, rule)
    name, text = next(pair for pair in _pairs(params) if not _encodable(pair[0] + pair[1]))
    raise _bad_value(name, text, rule)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
