"""Passwords out of text meant for people: error messages, reprs, logs."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["redact_passwords"]

# user:password@ in a URL, and password=... in a keyword/value connection string.
_URL_PASSWORD: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,30}://[^/@\s:]{0,256}:)[^@\s]*@")
_KEYWORD_PASSWORD: Final = re.compile(r"(?i)\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def redact_passwords(text: str, *known: str) -> str:
    """``text`` with every password shown as ``***``.

    Args:
        text: a URL, a connection string, or a message that may quote one.
        known: passwords known to be in play (replaced wherever they appear, even in a message
            that quotes them out of context).
    """
    for secret in known:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KEYWORD_PASSWORD.sub(r"\1***", text)
