"""Parse golden-set files: JSONL (one JSON object per line) and CSV.

Each row has ``id`` (string, unique in the file), ``input`` (an object of variable values, or a
scalar for single-variable prompts), optional ``expected`` and optional ``metadata`` (object).
In CSV, ``input`` and ``metadata`` cells holding JSON objects are decoded; other cells are
strings. The first malformed row rejects the whole file: :class:`DatasetFormatError` carries
its 1-based row number (the line number for JSONL, the data row number for CSV) and the reason.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any


class DatasetFormatError(ValueError):
    def __init__(self, row: int, reason: str):
        super().__init__(f"row {row}: {reason}")
        self.row = row
        self.reason = reason


@dataclass
class ExampleRow:
    id: str
    input: Any
    expected: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)


ALLOWED_KEYS = {"id", "input", "expected", "expected_output", "metadata"}


def _row_from_mapping(obj: Any, row: int, seen: set[str]) -> ExampleRow:
    if not isinstance(obj, dict):
        raise DatasetFormatError(row, "expected a JSON object")
    unknown = sorted(set(obj) - ALLOWED_KEYS)
    if unknown:
        raise DatasetFormatError(row, f"unknown field(s): {', '.join(unknown)}")
    raw_id = obj.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise DatasetFormatError(row, "missing field 'id'")
    if not isinstance(raw_id, str | int):
        raise DatasetFormatError(row, "field 'id' must be a string or an integer")
    ex_id = str(raw_id)
    if ex_id in seen:
        raise DatasetFormatError(row, f"duplicate id {ex_id!r}")
    seen.add(ex_id)
    if "input" not in obj or obj["input"] is None:
        raise DatasetFormatError(row, "missing field 'input'")
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise DatasetFormatError(row, "field 'metadata' must be an object")
    expected = obj.get("expected", obj.get("expected_output"))
    return ExampleRow(id=ex_id, input=obj["input"], expected=expected, metadata=metadata)


def parse_jsonl(data: bytes | str) -> list[ExampleRow]:
    """Rows of a JSONL document (blank lines ignored). Raises :class:`DatasetFormatError`."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    rows: list[ExampleRow] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetFormatError(lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
        rows.append(_row_from_mapping(obj, lineno, seen))
    if not rows:
        raise DatasetFormatError(0, "no rows")
    return rows


def _maybe_json(cell: str) -> Any:
    s = cell.strip()
    if s.startswith(("{", "[")):
        try:
            return json.loads(s)
        except json.JSONDecodeError:
            return cell
    return cell


def parse_csv(data: bytes | str) -> list[ExampleRow]:
    """Rows of a CSV document with a header (``id,input,expected,metadata``)."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    reader = csv.DictReader(io.StringIO(text))
    header = set(reader.fieldnames or [])
    if not {"id", "input"} <= header:
        raise DatasetFormatError(0, "CSV header must include 'id' and 'input'")
    rows: list[ExampleRow] = []
    seen: set[str] = set()
    for n, record in enumerate(reader, start=1):
        if None in record:
            raise DatasetFormatError(n, "more cells than header columns")
        obj: dict[str, Any] = {k: v for k, v in record.items() if v not in (None, "")}
        if "input" in obj:
            obj["input"] = _maybe_json(obj["input"])
        if "metadata" in obj:
            meta = _maybe_json(obj["metadata"])
            if not isinstance(meta, dict):
                raise DatasetFormatError(n, "field 'metadata' must be a JSON object")
            obj["metadata"] = meta
        rows.append(_row_from_mapping(obj, n, seen))
    if not rows:
        raise DatasetFormatError(0, "no rows")
    return rows


def parse_dataset(
    data: bytes, *, content_type: str | None, filename: str | None = None
) -> list[ExampleRow]:
    """Dispatch on content type or file extension: CSV when either says so, JSONL otherwise."""
    ct = (content_type or "").lower()
    name = (filename or "").lower()
    if "csv" in ct or name.endswith(".csv"):
        return parse_csv(data)
    return parse_jsonl(data)
