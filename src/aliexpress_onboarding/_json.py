"""Reading untrusted JSON text in time linear in its length.

`json.loads` alone recurses once per nesting level (``"[" * 100_000`` raises `RecursionError`),
refuses an integer of more than ``sys.get_int_max_str_digits()`` digits with a bare `ValueError`
that tells the reader to change an interpreter setting, and silently keeps the last of two equal
keys. `loads` caps the nesting before parsing, with a scan linear in the text, and refuses each
of the three with a `ValueError` that says what is wrong with the input.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from typing import Any, Final

__all__ = ["MAX_DEPTH", "loads", "too_deep"]

MAX_DEPTH: Final = 32
"""The deepest nesting of arrays and objects that `loads` reads."""

# A JSON string. Once it starts it always matches, to the closing quote or, unterminated, to
# the end of the text (a lone trailing backslash included): the engine never backtracks into it
# and retries from a later quote, which made the former ``"(?:[^"\\]|\\.)*"`` quadratic on
# '"' + '\\"' * n. DOTALL: a backslash escapes any character, a newline too.
_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_A_BRACKET: Final = re.compile(r"[^\[\]{}]+")
_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}


class _DuplicateKeyError(ValueError):
    """A JSON object names a key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The object of ``pairs``; a key given twice is refused, never silently last-wins."""
    obj = dict(pairs)
    if len(obj) < len(pairs):  # the cheap test; the loop below only names the key
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(f"the key {key[:40]!r} appears twice in one object")
            seen.add(key)
    return obj


# One decoder for every call: json.loads with a hook would build a new one each time (~1 µs).
_DECODER: Final = json.JSONDecoder(object_pairs_hook=_unique_keys)


def too_deep(text: str) -> bool:
    """Whether JSON text nests brackets deeper than `MAX_DEPTH` (brackets in strings ignored).

    Linear in the text for any input, JSON or not: strings, then everything but brackets, are
    cut out by regexes that never backtrack, and the running depth and its maximum are taken
    in C (itertools.accumulate, max).
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False  # too few brackets to nest that deep: no scan (most documents)
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    depths = itertools.accumulate(map(_STEP.__getitem__, brackets))
    return max(depths, default=0) > MAX_DEPTH


def loads(text: str) -> Any:
    """Parse untrusted JSON text: nesting capped, duplicate keys and endless integers refused.

    Args:
        text: the JSON text.

    Returns:
        The parsed value (objects as dicts).

    Raises:
        json.JSONDecodeError: ``text`` is not JSON (``.msg`` says why, ``.pos`` where).
        ValueError: nested deeper than `MAX_DEPTH`, a key twice in one object, or an integer
            with more digits than Python reads.
    """
    if too_deep(text):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return _DECODER.decode(text)
    except (json.JSONDecodeError, _DuplicateKeyError):
        raise
    except ValueError:
        # The only other ValueError json raises: int() refuses a huge literal (CVE-2020-10735).
        raise ValueError(f"a number has more than {sys.get_int_max_str_digits()} digits") from None
