"""`switchboard --help` answers at once: starting the CLI loads none of the heavy libraries;
each command imports them when it runs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "aiogram",
    "vkbottle",
    "aiohttp",
    "sqlalchemy",
    "redis",
    "pydantic_settings",
    "sklearn",
    "scipy",
    "numpy",
    "matplotlib",
    "wordllama",
)

PROBE = f"""
import sys
from typer.testing import CliRunner
from switchboard.cli import app
result = CliRunner().invoke(app, ["--help"])
assert result.exit_code == 0, result.output
assert "operators" in result.output and "report" in result.output, result.output
print(" ".join(m for m in {HEAVY!r} if m in sys.modules))
"""


def test_help_loads_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
