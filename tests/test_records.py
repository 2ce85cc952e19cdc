import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from voc.records import Document, RecordError, make_document, read_documents_jsonl

TZ = timezone(timedelta(hours=8))


def _doc(**kw) -> Document:
    values = dict(
        source="shop",
        channel="review",
        external_id="r1",
        text="物流太慢",
        created_at=datetime(2025, 6, 1, 12, 30, tzinfo=TZ),
        author="张三",
    )
    values.update(kw)
    return make_document(**values)


def test_document_round_trips_through_json_and_hashes_the_author() -> None:
    doc = _doc(rating=2)
    again = Document.from_dict(json.loads(json.dumps(doc.to_dict())))
    assert again == doc
    assert "张三" not in json.dumps(doc.to_dict(), ensure_ascii=False)
    assert doc.author_hash and len(doc.author_hash) == 16
    assert _doc(external_id="r2").id != doc.id  # id follows (source, external id)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"text": "   "}, "text is empty"),
        ({"created_at": datetime(2025, 6, 1)}, "no timezone"),
        ({"channel": "fax"}, "channel"),
        ({"rating": 9}, "rating"),
    ],
)
def test_invalid_fields_are_named(kw: dict, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        _doc(**kw)


def test_bad_jsonl_lines_are_skipped_with_their_line_number(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    good = _doc().to_dict()
    missing = dict(good, text="")
    path.write_text(
        "\n".join([json.dumps(good), "{not json", json.dumps(missing)]) + "\n", encoding="utf-8"
    )
    docs, problems = read_documents_jsonl(path, "shop")
    assert len(docs) == 1
    assert len(problems) == 2
    assert problems[0].startswith("shop: out.jsonl line 2")
    assert "line 3" in problems[1] and "text" in problems[1]


def test_attributes_round_trip_and_must_be_flat_json_scalars() -> None:
    doc = make_document(
        source="complaints",
        channel="social",
        external_id="17359012345",
        text="快递丢件",
        created_at=datetime(2025, 3, 1, 12, tzinfo=timezone(timedelta(hours=8))),
        attributes={"status": "处理中", "amount": 199.0, "steps": 2, "public": True},
    )
    assert Document.from_dict(json.loads(json.dumps(doc.to_dict()))) == doc
    with pytest.raises(RecordError, match=r"attributes\['tags'\] must be a JSON scalar"):
        make_document(
            source="s",
            channel="social",
            external_id="1",
            text="x",
            created_at=doc.created_at,
            attributes={"tags": ["a", "b"]},
        )
