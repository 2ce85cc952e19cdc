"""[cases.response_times]: defaults, values, and errors naming the file and the key."""

from __future__ import annotations

import pytest

from voc.response_times import ResponseTimeConfig, parse_response_times


def test_defaults_are_24_hours_and_90_days() -> None:
    config = parse_response_times(None, "voc.toml")
    assert config == ResponseTimeConfig() and config.threshold_minutes == 1440
    assert parse_response_times({}, "voc.toml").outcome_window_days == 90


def test_values_are_read() -> None:
    config = parse_response_times({"threshold_hours": 4, "outcome_window_days": 30}, "x.toml")
    assert (config.threshold_minutes, config.outcome_window_days) == (240, 30)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"threshold_hours": -1}, "threshold_hours: 必须大于 0 / must be positive, got -1"),
        ({"threshold_hours": "24h"}, "threshold_hours: 必须是数字 / must be a number"),
        ({"outcome_window_days": 7.5}, "outcome_window_days: 必须是整数天"),
        ({"outcome_window_days": True}, "outcome_window_days: 必须是数字"),
        ({"treshold_hours": 24}, "未知的键 / unknown key(s): treshold_hours"),
        ([24], "必须是表 / must be a table"),
    ],
)
def test_bad_values_name_the_file_and_the_key(value: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_response_times(value, "voc.toml")  # type: ignore[arg-type]
    assert str(raised.value).startswith("voc.toml: [cases.response_times]")
    assert message in str(raised.value)
