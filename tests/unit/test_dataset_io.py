from __future__ import annotations

import pytest

from promptops.evaluation.dataset_io import (
    DatasetFormatError,
    parse_csv,
    parse_dataset,
    parse_jsonl,
)


def test_jsonl_rows_and_blank_lines() -> None:
    rows = parse_jsonl(
        b'{"id": 1, "input": {"q": "a"}, "expected": "x"}\n\n'
        b'{"id": "b", "input": "raw", "metadata": {"k": 1}}\n'
    )
    assert [r.id for r in rows] == ["1", "b"]
    assert rows[1].input == "raw" and rows[1].metadata == {"k": 1} and rows[1].expected is None


@pytest.mark.parametrize(
    "line,reason",
    [
        ('{"input": {}}', "missing field 'id'"),
        ('{"id": "a"}', "missing field 'input'"),
        ('{"id": "a", "input": 1, "metadata": 3}', "metadata"),
        ('{"id": "a", "input": 1, "surprise": 3}', "unknown field"),
        ("[1, 2]", "JSON object"),
        ('{"id": "a", "input": ', "invalid JSON"),
    ],
)
def test_jsonl_errors_name_row_and_reason(line: str, reason: str) -> None:
    good = '{"id": "g", "input": {"q": 1}}'
    with pytest.raises(DatasetFormatError) as e:
        parse_jsonl(f"{good}\n{line}\n")
    assert e.value.row == 2 and reason in str(e.value)


def test_duplicate_ids_rejected() -> None:
    with pytest.raises(DatasetFormatError, match="duplicate id 'a'"):
        parse_jsonl('{"id": "a", "input": 1}\n{"id": "a", "input": 2}')


def test_csv_decodes_json_cells() -> None:
    rows = parse_csv('id,input,expected,metadata\n1,"{""q"": 2}",yes,"{""s"": ""t""}"\n2,plain,,\n')
    assert rows[0].input == {"q": 2} and rows[0].metadata == {"s": "t"}
    assert rows[1].input == "plain" and rows[1].expected is None


def test_csv_requires_header_and_bad_metadata() -> None:
    with pytest.raises(DatasetFormatError, match="header"):
        parse_csv("a,b\n1,2\n")
    with pytest.raises(DatasetFormatError) as e:
        parse_csv("id,input,metadata\n1,x,notjson\n")
    assert e.value.row == 1


def test_dispatch_by_type_or_name() -> None:
    assert parse_dataset(b"id,input\n1,x\n", content_type="text/csv")[0].input == "x"
    assert parse_dataset(b"id,input\n1,x\n", content_type=None, filename="g.CSV")[0].id == "1"
    assert parse_dataset(b'{"id":1,"input":2}', content_type="application/x-ndjson")[0].input == 2
