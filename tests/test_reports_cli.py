"""`switchboard report` end to end: settings from the environment, the test database, a
table on stdout, CSV and PNG files."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
import typer
from reports_week import seed_week
from test_reports import png_size
from typer.testing import CliRunner, Result

from core.db import SessionFactory
from switchboard.commands.report import report


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, redis_url: str
) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TIMEZONE", "Europe/Moscow")
    monkeypatch.setenv("BUSINESS_HOURS", "09:00-18:00")
    monkeypatch.setenv("BUSINESS_DAYS", "1-5")
    monkeypatch.setenv("LANGUAGE", "en")
    return tmp_path


async def invoke(*args: str) -> Result:
    app = typer.Typer()
    app.command()(report)
    app.command("other")(
        lambda: None
    )  # two commands, so `report` is addressed by name as in the CLI
    return await asyncio.to_thread(
        CliRunner().invoke, app, ["report", *args], env={"COLUMNS": "250"}
    )


async def test_report_prints_a_table_and_writes_csv_and_chart(
    sessions: SessionFactory, environment: Path
) -> None:
    await seed_week(sessions)
    table, chart = environment / "week.csv", environment / "week.png"
    result = await invoke(
        "--since",
        "2026-11-02",
        "--until",
        "2026-11-08",
        "--by",
        "category",
        "--csv",
        str(table),
        "--chart",
        str(chart),
    )
    assert result.exit_code == 0, result.output
    assert "Conversations: 8; out of business hours: 3 (38%)" in result.output
    assert "payments" in result.output and "total" in result.output
    assert "Clients by operator time" in result.output
    assert "SLA breach: #" in result.output
    with table.open(encoding="utf-8") as handle:
        rows = {row["category"]: row for row in csv.DictReader(handle)}
    assert rows["total"]["conversations"] == "8"
    assert rows["payments"]["frt_median_min"] == "142.5"
    assert rows["payments"]["frt_business_median_min"] == "142.5"
    assert rows["account"]["frt_business_median_min"] == "49.0"  # over Monday night
    assert png_size(chart.read_bytes()) == (1200, 800)


async def test_report_refuses_a_bad_period(sessions: SessionFactory, environment: Path) -> None:
    result = await invoke("fortnight")
    assert result.exit_code == 2
    assert "bad period 'fortnight'" in result.output


async def test_report_of_an_empty_period(sessions: SessionFactory, environment: Path) -> None:
    result = await invoke(
        "2026-10-01..2026-10-07", "--by", "operator", "--csv", str(environment / "empty.csv")
    )
    assert result.exit_code == 0, result.output
    assert "No data for this period." in result.output
    with (environment / "empty.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["operator"], row["conversations"], row["sla_compliance_pct"]) for row in rows] == [
        ("total", "0", "")
    ]


async def test_the_russian_report_speaks_one_language_and_fits_80_columns(
    sessions: SessionFactory, environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGUAGE", "ru")
    await seed_week(sessions)
    result = await invoke("--since", "2026-11-02", "--until", "2026-11-08", "--by", "category")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "Объём · категория" in result.output and "итого" in result.output
    assert "payments" in result.output  # a split key is shown whole
    assert "…" not in "".join(line for line in lines if "│" in line)  # no cut figures
    clients = result.output.split("Клиенты по времени операторов")[-1]
    minutes = [line.split("│")[4].strip() for line in clients.splitlines() if line.count("│") == 6]
    assert minutes and "0.0" not in minutes[1:]  # only clients who took operator time
    for english in ("total", "conv.", "clients by", "Report"):
        assert english not in result.output
    today = await invoke("today")
    assert today.exit_code == 0, today.output
    assert today.output.startswith("Отчёт: сегодня (")
