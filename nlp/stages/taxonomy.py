"""Category stage: the curated complaint categories of `nlp.taxonomy`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp.stages.records import CategoryTag
from nlp.taxonomy import Taxonomy
from voc.stages import Output, StageDoc

#: The table this stage writes.
OUTPUT = Output("doc_categories", CategoryTag, version_column="taxonomy_version")


@dataclass(frozen=True)
class TaxonomyStage:
    """Tags by topic (keywords, regexes, example sentences); a new taxonomy file is a new
    version, so all history is re-tagged from the stored texts."""

    taxonomy: Taxonomy = field(repr=False)
    name: str = "taxonomy"
    channels: frozenset[str] | None = None
    reads: str = "tokens"
    after: tuple[str, ...] = ("normalise", "segment")
    distinct_only: bool = True
    outputs: tuple[Output, ...] = (OUTPUT,)
    batch_size: int | None = 10_000
    history_days: int | None = None

    @property
    def version(self) -> str:
        """A hash of what in the taxonomy file affects tagging."""
        return self.taxonomy.version

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        """Every category a document matched."""
        found = self.taxonomy.tag_many(
            [d.text_norm or "" for d in batch], [d.tokens for d in batch]
        )
        return [
            CategoryTag(d.doc_id, m.category, m.matched_by, m.evidence, m.score)
            for d, matches in zip(batch, found, strict=True)
            for m in matches
        ]
