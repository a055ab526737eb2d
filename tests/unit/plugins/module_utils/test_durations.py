# -*- coding: utf-8 -*-
from __future__ import annotations

import datetime

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.durations import (
    age_seconds, format_duration, parse_duration, parse_utc_time)

UTC = datetime.timezone.utc


@pytest.mark.parametrize("text, seconds", [
    ("4h", 14400), ("90m", 5400), ("1d12h", 129600), ("45s", 45), ("3600", 3600), (3600, 3600),
    ("1h30m", 5400), (" 2H ", 7200),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["four hours", "4x", "h", "", "30m4h", "0", "0h", True])
def test_parse_duration_rejects(text):
    with pytest.raises(DbopsError, match="max_age"):
        parse_duration(text, "max_age")


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (42, "42s"), (3720, "1h 2m"), (18720, "5h 12m"),
                                           (273600, "3d 4h"), (3600, "1h")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_age_of_naive_and_aware_times():
    now = datetime.datetime(2024, 12, 24, 12, 0, tzinfo=UTC)
    assert age_seconds(datetime.datetime(2024, 12, 24, 8, 0), now) == 14400
    assert age_seconds(datetime.datetime(2024, 12, 24, 13, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))), now) == 3600
    assert age_seconds(datetime.datetime(2025, 1, 1, tzinfo=UTC), now) == 0


def test_parse_utc_time():
    assert parse_utc_time("2024-12-24T10:15:00Z") == datetime.datetime(2024, 12, 24, 10, 15, tzinfo=UTC)
    assert parse_utc_time("2024-12-24T11:15:00+01:00") == datetime.datetime(2024, 12, 24, 10, 15, tzinfo=UTC)
    assert parse_utc_time("2024-12-24 10:15") == datetime.datetime(2024, 12, 24, 10, 15, tzinfo=UTC)
    with pytest.raises(DbopsError, match="restore_time: 'yesterday' is not an ISO 8601 time"):
        parse_utc_time("yesterday", "restore_time")
