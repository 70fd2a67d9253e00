"""Shapes every router shares: the base of request bodies (what cannot be stored is refused at
the door), bounded names and integers, http(s) URLs and the documented error answer.

Postgres cannot store a NUL character (U+0000) in ``text`` or ``jsonb``, UTF-8 cannot encode a
lone surrogate (U+D800..U+DFFF), and JSON has no NaN or infinity; integers must fit their
columns (``INTEGER``: 2**31 - 1, ``BIGINT``: 2**63 - 1). A request carrying any of these is
answered 422 with the field in ``loc`` instead of failing at the database with a 500.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

#: Largest values of Postgres ``INTEGER`` and ``BIGINT`` columns.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
#: Longest name of a project, prompt, dataset, API key, provider key... (``VARCHAR(200)``).
NAME_MAX = 200
#: Longest label or routing policy name (``VARCHAR(100)``).
SHORT_NAME_MAX = 100
#: Longest http(s) URL accepted (``provider_credentials.api_base`` is ``VARCHAR(500)``).
URL_MAX = 500


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _unstorable_text(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None. ASCII text is checked at C speed."""
    if "\x00" in text:
        return "contains a NUL character (U+0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"contains a lone surrogate (U+{ord(text[exc.start]):04X}), which is not "
                "valid Unicode"
            )
    return None


def unstorable(value: Any, where: str = "") -> str | None:
    """Why ``value`` (a string, number or JSON-like structure of dicts and lists, any depth)
    cannot be stored, or None when it can. The reason starts with the path of the culprit
    inside ``value`` (``where.a.b[2]: ...``) unless it is ``value`` itself and ``where`` is
    empty. Iterative, so a deeply nested document cannot exhaust the stack; dispatches on the
    exact types JSON decodes to (other objects, e.g. models validated on their own, are
    leaves)."""
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        where, item = stack.pop()
        kind = type(item)
        reason: str | None = None
        if kind is str:
            reason = _unstorable_text(item)
        elif kind is dict:
            for key, child in item.items():
                if type(key) is str and (why := _unstorable_text(key)):
                    return f"{_short(where)}: key {key!r} {why}" if where else f"key {key!r} {why}"
                stack.append((f"{where}.{key}" if where else str(key), child))
        elif kind is list or kind is tuple:
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(item))
        elif kind is float and not math.isfinite(item):
            reason = "is not a finite number (JSON has no NaN or infinity)"
        if reason:
            return f"{_short(where)}: {reason}" if where else reason
    return None


def _short(path: str, keep: int = 120) -> str:
    """A path for a message: its end when it is long (deeply nested documents)."""
    return path if len(path) <= keep else "..." + path[-keep:]


def check_storable(value: Any) -> Any:
    """``value`` unchanged, or PydanticCustomError ``unstorable`` (422 naming the field)."""
    reason = unstorable(value)
    if reason:
        raise PydanticCustomError("unstorable", reason)
    return value


class RequestModel(BaseModel):
    """Base of request bodies: NaN and infinity are refused, and every string, anywhere in a
    field (free-form JSON included), must be storable (no NUL, no lone surrogate). Errors are
    422 with the field in ``loc``. Cost measured here: ~2.5 us per ``generate`` body and
    ~5 us per chat completion request, against a gateway overhead of ~4 ms."""

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        kind = type(value)
        if kind is str:  # the common case, without the walk
            reason = _unstorable_text(value)
            if reason:
                raise PydanticCustomError("unstorable", reason)
        elif kind is dict or kind is list:
            check_storable(value)
        return value


def printable_name(value: str) -> str:
    """``value`` unchanged if it is a usable name: not blank, printable (no control, format or
    separator characters other than the space) and storable; else PydanticCustomError."""
    if not value.strip():
        raise PydanticCustomError("blank_name", "must not be blank")
    if not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        raise PydanticCustomError(
            "unprintable_name",
            "must be printable: it contains {char} (control, format or separator characters "
            "are refused)",
            {"char": f"U+{ord(bad):04X}"},
        )
    check_storable(value)
    return value


def http_url(value: str) -> str:
    """``value`` unchanged if it is an http(s) URL with a host (and a valid port), in printable
    ASCII without spaces; else PydanticCustomError ``url``."""
    if not value.isascii() or not value.isprintable() or " " in value:
        raise PydanticCustomError(
            "url",
            "must be an http(s) URL of printable ASCII without spaces (percent-encode "
            "other characters)",
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0..65535
    except ValueError as exc:
        raise PydanticCustomError(
            "url", "must be an http(s) URL: {why}", {"why": str(exc)}
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError(
            "url", "must be an http(s) URL with a host, e.g. https://api.example.com/v1"
        )
    return value


#: A name (project, prompt, dataset, key, label...): 1..200 printable characters, not blank.
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(printable_name)]
#: A label or routing policy name: 1..100 printable characters.
ShortName = Annotated[
    str, Field(min_length=1, max_length=SHORT_NAME_MAX), AfterValidator(printable_name)
]
#: Free text that is stored or compared with stored values (descriptions, notes, comments,
#: query filters): any storable characters. Bound its length where it is used.
Text = Annotated[str, AfterValidator(check_storable)]


class ErrorItem(BaseModel):
    """One reason a request was refused: ``loc`` is where (``["body", "decoding",
    "max_tokens"]``, ``["query", "limit"]``), ``msg`` why, ``type`` a machine-readable kind."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ErrorPublic(BaseModel):
    """Every 4xx answer under ``/api/v1``: ``detail`` is a message, or a list of
    :class:`ErrorItem` when fields are at fault (FastAPI's validation shape)."""

    detail: str | list[ErrorItem]


#: ``responses=`` of every router under ``/api/v1``: the 4xx answers (401 no key, 403 role or
#: scope, 404, 409, 413 body too large, 422 naming the field, 429 rate limit or budget) share
#: one shape. Declaring ``4XX`` replaces FastAPI's per-route 422 entry.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": ErrorPublic,
        "description": "Refused: 401 no valid API key, 403 role or scope, 404 not found "
        "(or not the caller's), 409 conflict, 413 body too large, 422 a "
        "field at fault (named in `loc`), 429 rate limit or budget",
    },
}
