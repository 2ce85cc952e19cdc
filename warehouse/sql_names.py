"""SQL pieces the enrichment modules share: checked identifiers and the current-result rule."""

from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def sql_name(identifier: str) -> str:
    """`identifier` when it is a plain table or column name.

    Table and column names come from stage declarations in code, never from input; this
    keeps a typo from becoming SQL.

    Raises:
        ValueError: it is not.
    """
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"not a table or column name: {identifier!r}")
    return identifier


def current_result(doc_id: str) -> str:
    """SQL condition: the result of stage ``$stage`` for document `doc_id` (an SQL
    expression) is current, with the same content hash (of ``raw_documents r``) and
    fingerprint ``$fingerprint``."""
    return (
        f"EXISTS (SELECT 1 FROM doc_stage_state s WHERE s.stage = $stage AND s.doc_id = {doc_id} "
        "AND s.content_hash = r.content_hash AND s.fingerprint = $fingerprint)"
    )
