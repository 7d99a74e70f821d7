"""Start-up refuses bad settings and unreachable services with a message naming the culprit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.redis_server import RedisUnavailable, connect_redis
from switchboard.settings import SettingsError, load_settings

SWITCHBOARD = [sys.executable, "-m", "switchboard.cli"]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("HTTP_PORT", "eighty", "HTTP_PORT"),
        ("TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("BUSINESS_HOURS", "18:00-09:00", "opening time must be before closing time"),
        ("BUSINESS_DAYS", "0-9", "weekdays are 1 (Monday) to 7 (Sunday)"),
        ("LANGUAGE", "de", "LANGUAGE"),
        ("EMAIL__IMAP_PORT", "imap", "EMAIL__IMAP_PORT"),
    ],
)
def test_a_malformed_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None)
    assert variable in str(error.value) and expected in str(error.value)


def test_the_cli_stops_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "TIMEZONE": "Nowhere/Town", "VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [*SWITCHBOARD, "run"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "TIMEZONE" in result.stderr and "Traceback" not in result.stderr


async def test_an_unreachable_redis_is_named(tmp_path: Path) -> None:
    with pytest.raises(RedisUnavailable) as error:
        async with connect_redis("redis://:secret@127.0.0.1:1/0", tmp_path):
            pass
    assert "redis://***@127.0.0.1:1/0" in str(error.value)
    assert "secret" not in str(error.value)
