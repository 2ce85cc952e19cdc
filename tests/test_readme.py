"""The README's configuration examples are valid settings files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from voc.settings import SOURCE_KINDS, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_toml_example_loads_as_settings(index: int, tmp_path: Path) -> None:
    path = tmp_path / "voc.toml"
    path.write_text(BLOCKS[index], encoding="utf-8")
    settings = load_settings(path, env={})
    assert settings.sources


def test_every_source_kind_has_an_example() -> None:
    shown = set(re.findall(r'^kind = "(\w+)"', "\n".join(BLOCKS), re.M))
    assert shown >= set(SOURCE_KINDS) - {"shop_reviews", "microblog"}
