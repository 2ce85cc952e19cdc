from pathlib import Path

import pytest

from voc.settings import SettingsError, load_settings


def test_defaults_point_at_the_bundled_demo_sources() -> None:
    settings = load_settings(env={})
    assert [s.name for s in settings.sources] == [
        "demo_shop",
        "demo_weibo",
        "demo_helpdesk",
        "demo_survey",
    ]
    assert settings.schedule_cron == "0 6 * * *" and settings.timezone == "Asia/Shanghai"
    moved = settings.with_demo_port(9999)
    assert moved.source("demo_weibo").url == "http://127.0.0.1:9999/api/search"


def test_toml_file_environment_and_overrides_in_that_order(tmp_path: Path) -> None:
    config = tmp_path / "voc.toml"
    config.write_text(
        '[voc]\ndb_path = "from_file.duckdb"\nspike_min_ratio = 3.0\n'
        '[sources.shop]\nkind = "shop_reviews"\nurl = "http://127.0.0.1:1/shop/"\n'
        'brand = "X"\n',
        encoding="utf-8",
    )
    settings = load_settings(config, env={"VOC_AUTHOR_SALT": "pepper"})
    assert settings.db_path == Path("from_file.duckdb")
    assert settings.spike_min_ratio == 3.0 and settings.author_salt == "pepper"
    assert settings.source("shop").options == {"brand": "X"}
    assert load_settings(config, env={"VOC_DB": "env.duckdb"}).db_path == Path("env.duckdb")
    assert load_settings(config, env={}, db_path="cli.duckdb").db_path == Path("cli.duckdb")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[voc]\nno_such = 1\n", "unknown setting"),
        ('[sources.x]\nkind = "fax"\nurl = "u"\n', "source 'x': kind"),
        ("[voc\n", "invalid TOML"),
    ],
)
def test_bad_config_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=message) as err:
        load_settings(config, env={})
    assert "bad.toml" in str(err.value)


def test_segmenter_backend_is_chosen_in_the_config_file(tmp_path: Path) -> None:
    assert load_settings(env={}).segmenter == "rjieba"
    config = tmp_path / "voc.toml"
    config.write_text('[voc]\nsegmenter = "jieba"\n', encoding="utf-8")
    assert load_settings(config, env={}).segmenter == "jieba"
    config.write_text('[voc]\nsegmenter = "pkuseg"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"voc\.toml: segmenter = 'pkuseg'.*jieba, rjieba"):
        load_settings(config, env={})


def test_prefect_server_settings_come_from_file_and_environment(tmp_path: Path) -> None:
    settings = load_settings(env={}, db_path=tmp_path / "w.duckdb")
    assert settings.prefect_server_home == tmp_path / "runs" / "prefect"
    assert (settings.prefect_port, settings.prefect_startup_timeout) == (4200, 120.0)
    assert settings.prefect_startup_retries == 1
    config = tmp_path / "voc.toml"
    config.write_text("[voc]\nprefect_port = 4300\nprefect_startup_timeout = 300\n")
    env = {"VOC_PREFECT_HOME": str(tmp_path / "ph"), "VOC_PREFECT_STARTUP_RETRIES": "3"}
    settings = load_settings(config, env=env)
    assert settings.prefect_server_home == tmp_path / "ph"
    assert (settings.prefect_port, settings.prefect_startup_timeout) == (4300, 300.0)
    assert settings.prefect_startup_retries == 3


@pytest.mark.parametrize(
    ("var", "value"),
    [("VOC_PREFECT_STARTUP_TIMEOUT", "soon"), ("VOC_PREFECT_STARTUP_TIMEOUT", "0")],
)
def test_a_bad_startup_timeout_names_the_setting(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match="prefect_startup_timeout"):
        load_settings(env={var: value})
