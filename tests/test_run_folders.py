"""Run folders older than ``runs_keep_days`` are removed at the start of a run; nothing
else in the runs folder is touched (real folders and files)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from voc.run_folders import prune_run_folders, run_started
from voc.settings import SettingsError, load_settings

NOW = datetime(2026, 12, 8, 6, 0, 0)


def _run_folder(runs: Path, started: datetime, size: int = 1000) -> Path:
    folder = runs / (started.strftime("%Y%m%dT%H%M%S-") + "a1b2c3")
    (folder / "sub").mkdir(parents=True)
    (folder / "social.jsonl").write_bytes(b"x" * size)
    (folder / "sub" / "shop.log").write_bytes(b"y" * size)
    return folder


def test_only_run_folders_older_than_the_kept_days_go(tmp_path: Path) -> None:
    old = _run_folder(tmp_path, NOW - timedelta(days=15), size=5000)
    older = _run_folder(tmp_path, NOW - timedelta(days=40))
    recent = _run_folder(tmp_path, NOW - timedelta(days=13, hours=23))
    (tmp_path / "case-spool").mkdir()
    (tmp_path / "case-spool" / "20240101T000000-000000.jsonl").write_text("{}")
    (tmp_path / "prefect").mkdir()
    (tmp_path / "20240101T000000-notarun").mkdir()
    pruned = prune_run_folders(tmp_path, 14, NOW)
    assert set(pruned.folders) == {old, older}
    assert pruned.n_bytes == 2 * 5000 + 2 * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [recent.name, "case-spool", "prefect", "20240101T000000-notarun"]
    )
    assert (tmp_path / "case-spool" / "20240101T000000-000000.jsonl").exists()


def test_zero_days_keeps_everything_and_the_current_run_is_never_removed(tmp_path: Path) -> None:
    old = _run_folder(tmp_path, NOW - timedelta(days=400))
    assert prune_run_folders(tmp_path, 0, NOW).folders == ()
    assert prune_run_folders(tmp_path, 1, NOW, keep=old.name).folders == ()
    assert old.exists()
    assert prune_run_folders(tmp_path / "missing", 14, NOW).folders == ()


def test_a_run_id_reads_as_its_start_time() -> None:
    assert run_started("20261207T231312-9374dc") == datetime(2026, 12, 7, 23, 13, 12)
    assert run_started("20261399T231312-9374dc") is None  # not a date
    assert run_started("case-spool") is None


def test_the_setting_defaults_to_two_weeks_and_rejects_a_negative(tmp_path: Path) -> None:
    assert load_settings(env={}).runs_keep_days == 14
    config = tmp_path / "voc.toml"
    config.write_text("[voc]\nruns_keep_days = 0\n", encoding="utf-8")
    assert load_settings(config, env={}).runs_keep_days == 0
    config.write_text("[voc]\nruns_keep_days = -1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="runs_keep_days"):
        load_settings(config, env={})
