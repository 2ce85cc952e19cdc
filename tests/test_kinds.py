"""The source-kind registry: options are checked at load time, and the docs are generated."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cli.main import main
from voc.kinds import KINDS, SourceKind, find_kind
from voc.kinds.render import kinds_markdown, own_options
from voc.settings import SOURCE_KINDS, SettingsError, SourceConfig, demo_sources, load_settings

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _load_error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(SettingsError) as err:
        load_settings(path, env={})
    return str(err.value)


def _source_name(kind: SourceKind) -> str:
    return next(iter(tomllib.loads(kind.example)["sources"]))


def _with_line(example: str, line: str) -> str:
    """The example with `line` added to its first table (the source's own options)."""
    first, _, rest = example.partition("\n")
    return f"{first}\n{line}\n{rest}"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_each_kind_example_loads_with_its_typed_options(kind: SourceKind, tmp_path) -> None:
    [source] = load_settings(_write(tmp_path, kind.example), env={}).sources
    assert source.kind == kind.name and source.name == _source_name(kind)
    assert isinstance(source.typed_options, kind.options)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_each_kind_refuses_a_misspelled_option_naming_the_nearest(
    kind: SourceKind, tmp_path
) -> None:
    own = [o.name for o in own_options(kind) if "." not in o.name]
    option = own[0] if own else "brand"
    typo = option[:-1]  # app_i, mod, selector, bran...
    message = _load_error(tmp_path, _with_line(kind.example, f'{typo} = "x"'))
    path = tmp_path / "sources.toml"
    assert message == (
        f"{path}: 数据源 {_source_name(kind)} ({kind.name}): 未知选项 {typo}；是否要写 {option}？"
    )


def test_the_issue_example_country_typo(tmp_path) -> None:
    text = '[sources.ios]\nkind = "app_store"\nurl = "https://itunes.apple.com"\n'
    message = _load_error(tmp_path, text + 'app_id = "1"\ncontry = "cn"\n')
    assert message.endswith(
        "sources.toml: 数据源 ios (app_store): 未知选项 contry；是否要写 country？"
    )


def test_an_option_far_from_every_name_lists_the_valid_ones(tmp_path) -> None:
    text = '[sources.f]\nkind = "feed"\nurl = "https://x/rss"\nzzz = 1\n'
    message = _load_error(tmp_path, text)
    assert "数据源 f (feed): 未知选项 zzz（可用选项：brand, lookback_days" in message
    assert "cookie_env" in message and "是否要写" not in message


def test_a_misspelled_selector_key_is_named_with_its_table(tmp_path) -> None:
    text = (
        '[sources.shop]\nkind = "html_reviews"\nurl = "https://x/"\n'
        '[sources.shop.selectors]\nitem = "li"\ntext = "p"\ndate = "time"\nnext_pag = "a"\n'
    )
    message = _load_error(tmp_path, text)
    assert message.endswith(
        "数据源 shop (html_reviews): 未知选项 selectors.next_pag；是否要写 selectors.next_page？"
    )


def test_a_misspelled_column_field_is_named_with_its_table(tmp_path) -> None:
    text = (
        '[sources.hd]\nkind = "ticket_export"\nurl = "/data/exports/"\n'
        '[sources.hd.columns]\nstaus = "状态"\n'
    )
    assert _load_error(tmp_path, text).endswith("未知选项 columns.staus；是否要写 columns.status？")


@pytest.mark.parametrize(
    ("kind", "lines", "says"),
    [
        ("jd_comments", 'product_id = "1"\npage_size = "ten"', "选项 page_size 的值 'ten' 无效"),
        ("jd_comments", 'product_id = "1"\npage_size = 500', "选项 page_size 的值 500 无效"),
        ("app_store", 'app_id = "1"\nformat = "pdf"', "选项 format 的值 'pdf' 无效"),
        ("app_store", 'app_id = "12ab"', "选项 app_id 的值 '12ab' 无效"),
        ("feed", 'download_delay = "slow"', "选项 download_delay 的值 'slow' 无效"),
        ("feed", 'cookie_env = "SUB=abc; x=1"', "选项 cookie_env 的值 'SUB=abc; x=1' 无效"),
        ("mailbox", "starttls = 1.5", "选项 starttls 的值 1.5 无效"),
        ("helpdesk_api", 'export = "full"', "选项 export 的值 'full' 无效"),
        (
            "ticket_export",
            '[sources.s.columns]\ntext = ["主旨", ""]',
            "选项 columns.text[1] 的值 '' 无效",
        ),
    ],
)
def test_a_wrong_type_names_file_source_and_option(tmp_path, kind: str, lines: str, says: str):
    text = f'[sources.s]\nkind = "{kind}"\nurl = "https://x/"\n{lines}\n'
    message = _load_error(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'sources.toml'}: 数据源 s ({kind}): {says}：")


@pytest.mark.parametrize(
    ("kind", "lines", "says"),
    [
        ("app_store", "", "缺少必填选项 app_id"),
        ("jd_comments", "", "缺少必填选项 product_id"),
        (
            "html_reviews",
            '[sources.s.selectors]\nitem = "li"\ntext = "p"',
            "缺少必填选项 selectors.date",
        ),
        ("weibo", 'mode = "timeline"', "mode = timeline 缺少必填选项 uid"),
        ("weibo", 'mode = "comments"', "mode = comments 缺少必填选项 post_id"),
        ("weibo", "", "mode = search 缺少必填选项 query（或 brand）"),
        ("microblog", "", "缺少必填选项 query（或 brand）"),
        ("complaints", "", "keywords 与 company_id 须且只能给一个"),
        ("helpdesk_api", 'token_env = "ZD_TOKEN"', "选项 token_env 需要选项 email"),
    ],
)
def test_a_missing_required_option_names_file_source_and_option(
    tmp_path, kind: str, lines: str, says: str
) -> None:
    text = f'[sources.s]\nkind = "{kind}"\nurl = "https://x/"\n{lines}\n'
    message = _load_error(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'sources.toml'}: 数据源 s ({kind}): {says}")


def test_every_problem_of_a_source_is_named_at_once(tmp_path) -> None:
    text = '[sources.s]\nkind = "jd_comments"\nurl = "https://x/"\npage_siz = 5\nsort = "x"\n'
    lines = _load_error(tmp_path, text).splitlines()
    assert len(lines) == 3
    assert all(": 数据源 s (jd_comments): " in line for line in lines)
    assert {line.split("): ", 1)[1].split(" ")[0] for line in lines} == {
        "缺少必填选项",
        "未知选项",
        "选项",
    }


def test_a_deprecated_alias_loads_as_the_canonical_kind_with_a_warning(tmp_path, caplog) -> None:
    path = _write(tmp_path, '[sources.forum]\nkind = "rss"\nurl = "https://x/rss"\nbrand = "B"\n')
    with caplog.at_level(logging.WARNING, logger="voc.settings"):
        [source] = load_settings(path, env={}).sources
    assert source.kind == "feed" and source.options == {"brand": "B"}
    [record] = caplog.records
    assert "数据源 forum" in record.getMessage() and str(path) in record.getMessage()
    assert "kind 'rss' 已弃用，请改写 kind = 'feed'" in record.getMessage()
    # Made in code, the alias is replaced too, so spiders and connectors see one name.
    assert SourceConfig("forum", "rss", "https://x/rss").kind == "feed"


def test_an_unknown_kind_suggests_the_nearest(tmp_path) -> None:
    message = _load_error(tmp_path, '[sources.jd]\nkind = "jd_comment"\nurl = "https://x"\n')
    assert "数据源 jd: 未知类型 jd_comment；是否要写 jd_comments？" in message
    assert "kind must be one of app_store, weibo" in message


def test_enabled_must_be_a_boolean(tmp_path) -> None:
    message = _load_error(tmp_path, '[sources.f]\nkind = "feed"\nurl = "u"\nenabled = "no"\n')
    assert message.endswith("数据源 f (feed): enabled must be true or false, got 'no'")


def test_loaded_options_are_normalised_and_defaults_are_typed(tmp_path) -> None:
    text = (
        '[sources.w]\nkind = "weibo"\nurl = "https://m.weibo.cn"\nmode = "timeline"\n'
        "uid = 2988887777\nlookback_days = 3\n"
    )
    [source] = load_settings(_write(tmp_path, text), env={}).sources
    # `options` keeps what was written (flows read lookback_days from it), as text ids.
    assert source.options == {"mode": "timeline", "uid": "2988887777", "lookback_days": 3}
    typed = source.typed_options
    assert (typed.max_pages, typed.concurrent_requests, typed.obey_robots) == (50, 2, True)


def test_the_demo_sources_validate() -> None:
    for source in demo_sources("http://127.0.0.1:1"):
        assert isinstance(source.typed_options, find_kind(source.kind).options)


def test_source_kinds_are_the_canonical_names() -> None:
    assert tuple(k.name for k in KINDS) == SOURCE_KINDS
    assert len(set(SOURCE_KINDS)) == len(SOURCE_KINDS)
    aliases = [a for k in KINDS for a in k.aliases]
    assert not set(aliases) & set(SOURCE_KINDS) and len(set(aliases)) == len(aliases)


def test_every_option_is_documented() -> None:
    for kind in KINDS:
        for name, info in kind.options.model_fields.items():
            assert info.description, f"{kind.name}.{name} has no description"


def test_the_docs_are_the_generated_ones() -> None:
    committed = (ROOT / "docs" / "source-kinds.md").read_text(encoding="utf-8")
    assert committed == kinds_markdown(KINDS), (
        "docs/source-kinds.md is stale: python -m voc.kinds --markdown > docs/source-kinds.md"
    )


def test_sources_kinds_json_lists_every_kind_with_its_options(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "sources", "kinds", "--json"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        check=True,
    )
    kinds = {k["kind"]: k for k in json.loads(done.stdout)}
    assert list(kinds) == list(SOURCE_KINDS)
    assert kinds["feed"]["aliases"] == ["rss"] and kinds["feed"]["implementation"] == "spider feed"
    assert kinds["mailbox"]["implementation"] == "connector scrapers.mailbox:load_mailbox"
    options = {o["name"]: o for o in kinds["jd_comments"]["options"]}
    assert options["product_id"] | {"description": ""} == {
        "name": "product_id",
        "type": "str",
        "bounds": "",
        "default": None,
        "required": True,
        "description": "",
        "shared": False,
    }
    assert (options["page_size"]["default"], options["page_size"]["bounds"]) == (10, "≥ 1, ≤ 100")
    assert options["download_delay"]["shared"] and options["download_delay"]["type"] == "float"
    selectors = {o["name"] for o in kinds["html_reviews"]["options"]}
    assert {"selectors", "selectors.item", "selectors.next_page"} <= selectors
    assert kinds["weibo"]["options"][0]["name"] == "brand"
    for kind in kinds.values():  # each example is a working sources file
        assert all(o["description"] for o in kind["options"])
        path = tmp_path / f"{kind['kind']}.toml"
        path.write_text(kind["example"], encoding="utf-8")
        assert load_settings(path, env={}).sources[0].kind == kind["kind"]


def test_sources_kinds_prints_a_table_chinese_first(capsys) -> None:
    assert main(["sources", "kinds"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("所有数据源的选项 / Options every source takes\n    brand ")
    assert "feed — RSS 2.0 或 Atom 订阅" in out and "旧名（已弃用）deprecated aliases: rss" in out
    app_id = next(line for line in out.splitlines() if line.strip().startswith("app_id"))
    assert "必填 required" in app_id
