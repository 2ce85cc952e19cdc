"""The enrichment contract: what every per-document stage is, reads and writes.

A stage (normalisation, near-duplicates, segmentation, categories, aspects, sentiment,
emotion, …) is an object with a name, a version, the channels it applies to, what it reads,
the tables it writes, and one pure method::

    records = stage.enrich(batch, history)

over `StageDoc` records; it never touches the warehouse. `warehouse.enrichment` selects what
is pending for a stage and saves its records, with one invalidation rule for every stage:

    a document's result is stale when the document's content hash, or the stage's
    fingerprint (its version and the fingerprints of the stages it reads from), changed.

The ordered list of stages is the pipeline (`nlp.pipeline.build_pipeline`); the daily flow
iterates it. Adding a stage: one module implementing `Stage`, one entry in that list, one
migration for its table (see docs/architecture.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, Literal, Protocol, runtime_checkable

#: What a stage reads of a document: its raw (masked) text, its normalised text, or the
#: normalised text and its tokens.
Reads = Literal["text", "text_norm", "tokens"]


@dataclass(frozen=True, slots=True)
class StageDoc:
    """One document as a stage sees it.

    Attributes:
        doc_id: `voc.records.Document.id`.
        channel: ``review``, ``social``, ``ticket``…
        content_hash: The stored text's hash; results are kept against it.
        created_at: When the customer wrote it.
        local_day: Its day in the warehouse's timezone.
        text: The stored raw text (personal data already masked).
        text_norm: The normalised text (None before normalisation).
        tokens: The segmenter's tokens (None before segmentation).
    """

    doc_id: str
    channel: str
    content_hash: str
    created_at: datetime
    local_day: date
    text: str
    text_norm: str | None = None
    tokens: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Output:
    """One table a stage writes, and the record type of its rows.

    The record's fields are the table's columns of the same names (``doc_id`` first).

    Attributes:
        table: The warehouse table.
        record: A dataclass whose instances `Stage.enrich` returns for this table.
        version_column: Column filled with the stage's version (e.g. ``model_version``).
        time_column: Column filled with the time of writing (e.g. ``scored_at``).
        keep_versions: True when the table keys rows by version too, so that rows of other
            versions stay (an older sentiment model's scores); otherwise saving a document
            replaces all its rows.
    """

    table: str
    record: type
    version_column: str | None = None
    time_column: str | None = None
    keep_versions: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The record's field names, in order."""
        return tuple(f.name for f in fields(self.record))


@runtime_checkable
class Stage(Protocol):
    """A per-document enrichment stage.

    Attributes:
        name: Stable name (run log, state table).
        version: Changes whenever the stage's output for the same input may change (a
            model's weights digest, a taxonomy file's hash, ``normalise-v1``…).
        channels: The channels it applies to; None for every channel.
        reads: What of a document it needs (`Reads`).
        after: Names of the stages whose results it reads; a document is pending only
            once those are current, and their fingerprints are part of this one's.
        distinct_only: Leave out exact duplicates (they share the first copy's results).
        outputs: The tables it writes.
        batch_size: Documents per `enrich` call; None for all pending at once (a stage
            whose results depend on the order of every pending document).
        history_days: When set, `enrich` also receives this stage's own stored records of
            the last that many days (the near-duplicate index), oldest first; a
            `KeyedHistory` stage receives a `HistoryLookup` of them instead.
    """

    name: str
    version: str
    channels: frozenset[str] | None
    reads: Reads
    after: tuple[str, ...]
    distinct_only: bool
    outputs: tuple[Output, ...]
    batch_size: int | None
    history_days: int | None

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        """Records for `batch` (of the `outputs`' record types); pure, no I/O."""
        ...


#: What a `KeyedHistory` stage gets instead of its whole history: called with the (slot,
#: key) pairs its batch looks up, it returns the stored records those keys select, oldest
#: written first.
HistoryLookup = Callable[[Sequence[int], Sequence[int]], list[Any]]


@runtime_checkable
class KeyedHistory(Protocol):
    """A history stage (`history_days`) whose batch needs only the stored records that share
    a lookup key with it (the near-duplicate index: signature digests and LSH band keys), so
    that a run reads what its new documents touch instead of the whole window.

    `enrich` then receives a `HistoryLookup` as its history. `warehouse.enrichment` keeps a
    record's keys in `keys_table` as (doc_id, slot, key) rows, written with the record, and
    a lookup selects, of the current records in the window, oldest written first:

    - per slot-0 key (a record's identity, e.g. its signature's digest) only the first
      record: the later ones are copies an index keeps no entry for;
    - of those, every record with a looked-up slot-0 key, and per looked-up (slot > 0, key)
      the first `bucket_cap` records of each ``group_id``.

    Attributes:
        keys_table: The table of the records' keys.
        bucket_cap: Records of one group kept per (slot, key).
    """

    keys_table: str
    bucket_cap: int

    def record_keys(self, records: Sequence[Any]) -> tuple[Sequence[str], Any, Any]:
        """(doc ids, slots, keys) of records' lookup keys: three equal-length sequences."""
        ...


@dataclass(frozen=True, slots=True)
class StageSpec:
    """Metadata of a stage that is not a `Stage` itself but keeps per-document results
    under the same rule (theme assignment); `warehouse.enrichment` accepts either."""

    name: str
    version: str
    after: tuple[str, ...] = ()
    channels: frozenset[str] | None = None
    reads: Reads = "tokens"
    distinct_only: bool = True
    outputs: tuple[Output, ...] = ()
    batch_size: int | None = None
    history_days: int | None = None


def fingerprints(stages: Sequence[Stage | StageSpec]) -> dict[str, str]:
    """Each stage's fingerprint: a hash of its version and its upstream fingerprints.

    A new normaliser makes every stage after it stale; a new sentiment model only the
    stages that read sentiment.

    Raises:
        ValueError: a stage reads from a stage that is not before it in `stages`, or two
            stages share a name.
    """
    found: dict[str, str] = {}
    for stage in stages:
        if stage.name in found:
            raise ValueError(f"two stages are named {stage.name!r}")
        missing = [name for name in stage.after if name not in found]
        if missing:
            raise ValueError(
                f"stage {stage.name!r} reads from {', '.join(missing)}, which must come "
                "before it in the pipeline"
            )
        parts = [stage.name, stage.version, *(found[name] for name in stage.after)]
        found[stage.name] = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
    return found


def check_records(stage: Stage, records: Sequence[Any]) -> dict[type, list[Any]]:
    """Records grouped by their output type.

    Raises:
        TypeError: a record is of no output type of the stage (names the stage).
    """
    by_type: dict[type, list[Any]] = {o.record: [] for o in stage.outputs}
    for record in records:
        bucket = by_type.get(type(record))
        if bucket is None:
            raise TypeError(
                f"stage {stage.name!r} returned a {type(record).__name__}, which is none of "
                f"its outputs ({', '.join(t.__name__ for t in by_type)})"
            )
        bucket.append(record)
    return by_type


def partitionable(stage: Stage | StageSpec) -> bool:
    """True when the stage's results for a document do not depend on the other pending
    documents or on stored history, so that its batches can be split across processes.

    A stage that reads its own history (`history_days`, the near-duplicate index) or
    wants every pending document at once (`batch_size` None) runs in one piece.
    """
    return stage.history_days is None and stage.batch_size is not None


def partition(batch: Sequence[StageDoc], size: int | None) -> list[Sequence[StageDoc]]:
    """`batch` in consecutive slices of at most `size` documents (None: one slice).

    The one partitioning that a local run and a Dask run share, so that both call
    `Stage.enrich` on the same documents together.
    """
    if not batch:
        return []
    if size is None:
        return [batch]
    if size < 1:
        raise ValueError(f"partition size must be at least 1, got {size}")
    return [batch[i : i + size] for i in range(0, len(batch), size)]
