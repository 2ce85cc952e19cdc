import pytest

from cli.main import build_parser, main


@pytest.mark.parametrize(
    ("command", "mentions"),
    [
        ("demo", "--no-dashboard"),
        ("ingest", "--since"),
        ("schedule", "--cron"),
        ("stats", "--json"),
        ("dashboard", "--port"),
        ("demo-server", "--port"),
        ("sentiment", "predict"),
        ("sentiment predict", "--json"),
        ("sentiment eval", "--label-col"),
        ("sentiment train", "--from"),
        ("sources check", "dry run"),
        ("sources kinds", "--json"),
    ],
)
def test_every_subcommand_has_help(command: str, mentions: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command.split(), "--help"])
    assert done.value.code == 0
    assert mentions in capsys.readouterr().out


def test_subcommands_listed_in_top_level_help() -> None:
    text = build_parser().format_help()
    for command in ("demo", "ingest", "schedule", "stats", "dashboard", "demo-server"):
        assert command in text


def test_bad_date_is_rejected_with_a_clear_message(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["ingest", "--since", "2025-13-01"])
    assert "not a date (YYYY-MM-DD): '2025-13-01'" in capsys.readouterr().err


def test_stats_on_a_missing_warehouse_says_what_to_do(tmp_path, capsys) -> None:
    assert main(["stats", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "voc demo" in capsys.readouterr().err


def test_default_schedule_is_six_in_the_morning_shanghai_time() -> None:
    from flows.schedule import build_schedule
    from voc.settings import load_settings

    settings = load_settings(env={})
    schedule = build_schedule(settings.schedule_cron, settings.timezone)
    assert schedule.cron == "0 6 * * *" and schedule.timezone == "Asia/Shanghai"
    with pytest.raises(ValueError):
        build_schedule("not a cron", "Asia/Shanghai")


def test_sources_check_reports_reachability_and_dry_run_counts(demo_server, tmp_path, capsys):
    import json

    config = tmp_path / "sources.toml"
    config.write_text(
        f"""
[sources.demo_weibo]
kind = "microblog"
url = "{demo_server.base_url}/api/search"
query = "客声优选"

[sources.demo_helpdesk]
kind = "ticket_export"
url = "{demo_server.base_url}/helpdesk/exports/index.json"

[sources.gone]
kind = "rss"
url = "http://127.0.0.1:9/feed.xml"
""",
        encoding="utf-8",
    )
    code = main(
        [
            "sources",
            "check",
            "--config",
            str(config),
            "--since",
            "2025-08-12",
            "--until",
            "2025-08-13",
            "--json",
        ]
    )
    report = {s["name"]: s for s in json.loads(capsys.readouterr().out)["sources"]}
    assert code == 1  # one source is unreachable
    assert report["demo_weibo"]["reachable"] and report["demo_weibo"]["items"] > 50
    assert report["demo_helpdesk"]["ok"] and report["demo_helpdesk"]["items"] > 0
    assert not report["gone"]["reachable"] and "ConnectionRefused" in report["gone"]["error"]
    assert report["gone"]["items"] == 0


def test_sources_check_names_a_bad_sources_file(tmp_path, capsys) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[sources.x]\nkind = "carrier_pigeon"\nurl = "http://x"\n')
    assert main(["sources", "check", "--config", str(config)]) == 2
    assert "bad.toml" in capsys.readouterr().err
