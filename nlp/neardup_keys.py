"""Lookup keys of near-duplicate signatures (`nlp.neardup`), for a warehouse that stores
them to find a new batch's candidates without rebuilding the whole index."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nlp.neardup import _EMPTY_HASH, _SHORT, NearDupConfig, _digest, _Hasher, _is_short


def index_keys(
    sigs: Sequence[bytes], config: NearDupConfig | None = None, *, probe: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lookup keys of serialised signatures, as a warehouse stores them to find a new
    batch's candidates without rebuilding the whole index.

    Slot 0 is the signature's 64-bit digest (an exact copy's key); slot 1 + b the key of
    LSH band b (MinHash signatures only).

    Args:
        sigs: Serialised signatures (`signatures`).
        config: The index's parameters (default `NearDupConfig()`).
        probe: Only the keys a new document looks up: a short voice looks up its digest
            only with `short_exact`, and never when it is empty.

    Returns:
        (row in `sigs`, slot, key) arrays of int64, int16 and uint64.
    """
    config = config or NearDupConfig()
    digests = np.frombuffer(b"".join(_digest(s) for s in sigs), dtype="<u8")
    short = np.fromiter((_is_short(s) for s in sigs), dtype=bool, count=len(sigs))
    rows = np.arange(len(sigs), dtype=np.int64)
    if probe:
        empty = _SHORT + _EMPTY_HASH
        skip = [not config.short_exact or s == empty for s in sigs]
        keep = ~(short & np.array(skip, dtype=bool))
    else:
        keep = np.ones(len(sigs), dtype=bool)
    out_rows, out_slots, out_keys = [rows[keep]], [np.zeros(keep.sum(), np.int16)], [digests[keep]]
    long_rows = rows[~short]
    if len(long_rows):
        cube = np.frombuffer(b"".join(sigs[i] for i in long_rows), dtype="<u4")
        bands = _Hasher(config).band_keys(cube.reshape(len(long_rows), config.num_perm))
        out_rows.append(np.repeat(long_rows, config.bands))
        slot_ids = np.arange(1, config.bands + 1, dtype=np.int16)
        out_slots.append(np.tile(slot_ids, len(long_rows)))
        out_keys.append(bands.ravel())
    return np.concatenate(out_rows), np.concatenate(out_slots), np.concatenate(out_keys)
