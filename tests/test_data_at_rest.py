"""Data at rest: the var directory is its owner's alone, codes are kept as digests, a
report opened in a spreadsheet runs no formula, a letter's verdict is read from the right
`Authentication-Results`."""

from __future__ import annotations

import csv
import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from redis.asyncio import Redis
from reports_week import MOSCOW, NOW, seed_week
from sqlalchemy import text, update
from waiting import eventually

from admin.reports.contents import gather
from admin.reports.period import parse_period
from admin.reports.table import write_csv
from admin.telegram.state import Invites
from channels.attachment_store import safe_name
from channels.email.authentication import dmarc_verdict
from core.db import SessionFactory, create_engine
from core.files import write_once
from core.models import Operator
from routing.service_levels import BusinessCalendar
from switchboard.redis_server import embedded_redis
from switchboard.var_dir import local_secret, private_sqlite_file, secure_var_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_old_world_readable_var_directory_is_made_private(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "attachments" / "email").mkdir(parents=True)
    (var / "switchboard.db").write_bytes(b"")
    (var / "attachments" / "email" / "scan.pdf").write_bytes(b"%PDF")
    for path in (var, var / "attachments", var / "attachments" / "email"):
        path.chmod(0o755)
    for path in (var / "switchboard.db", var / "attachments" / "email" / "scan.pdf"):
        path.chmod(0o644)

    secure_var_dir(var)

    assert mode(var) == mode(var / "attachments" / "email") == 0o700
    assert mode(var / "switchboard.db") == mode(var / "attachments" / "email" / "scan.pdf") == 0o600


async def test_the_sqlite_database_and_its_journal_are_0600(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'switchboard.db'}"
    old = os.umask(0o022)  # the usual umask: SQLite alone would make 0644 files
    try:
        private_sqlite_file(url)
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x TEXT)"))
            await connection.execute(text("INSERT INTO t VALUES ('card 4276')"))
        files = sorted((tmp_path / "var").iterdir())
        assert files[0].name == "switchboard.db"
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        await engine.dispose()
    finally:
        os.umask(old)


def test_making_an_open_database_private_keeps_its_locks(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops the process's POSIX locks on it: a gateway
    started beside an open engine must not let another process write under its lock."""
    path = tmp_path / "var" / "switchboard.db"
    url = f"sqlite+aiosqlite:///{path}"
    private_sqlite_file(url)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x TEXT)")
    holder.execute("BEGIN IMMEDIATE")  # this process now holds the write lock
    try:
        private_sqlite_file(url)
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sqlite3, sys\n"
                "c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)\n"
                "c.execute('BEGIN IMMEDIATE')",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert other.returncode != 0 and "database is locked" in other.stderr


async def test_the_embedded_redis_writes_its_aof_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        async with embedded_redis(tmp_path / "redis") as url:
            client = Redis.from_url(url)
            await client.set("k", "v")
            await client.bgrewriteaof()

            async def rewritten() -> bool:
                info = await client.info("persistence")
                return (
                    not info["aof_rewrite_in_progress"]
                    and not info["aof_rewrite_scheduled"]
                    and info["aof_last_bgrewrite_status"] == "ok"
                )

            await eventually(rewritten, what="the AOF rewrite")
            await client.aclose()
    finally:
        os.umask(old)
    written = [p for p in (tmp_path / "redis").rglob("*") if p.is_file() and p.name != "redis.sock"]
    assert any("aof" in p.name for p in written)
    assert {p.name: mode(p) & 0o077 for p in written} == {p.name: 0 for p in written}
    assert mode(tmp_path / "redis") == 0o700


def test_the_local_secret_is_made_once_0600(tmp_path: Path) -> None:
    first = local_secret(tmp_path / "var")
    assert len(first) == 32 and local_secret(tmp_path / "var") == first
    assert mode(tmp_path / "var" / "secret.key") == 0o600


async def test_invite_codes_rest_as_digests(redis: Redis) -> None:
    invites = Invites(redis)
    code = await invites.issue(42)
    assert not [key for key in await redis.keys("*") if code in str(key)]
    assert await invites.redeem(code) == 42 and await invites.redeem(code) is None


def test_a_name_is_cut_to_the_byte_limit_and_a_disk_error_keeps_the_metadata(
    tmp_path: Path,
) -> None:
    name = safe_name("契約書" * 40 + ".pdf", "application/pdf", 1)
    assert len(name.encode()) <= 255 and name.endswith(".pdf") and name.startswith("契約書")
    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")  # attachments cannot go under a file
    assert write_once(blocked / "ab" / ("ab" * 32), b"data") is False


@pytest.mark.parametrize(
    ("headers", "verdict"),
    [
        (["mx.support.test; dmarc=pass header.from=client.ru"], "pass"),
        (["mx.support.test; dmarc=pass header.from=other.ru"], "other-domain"),
        (["evil.example; dmarc=pass header.from=client.ru"], "unchecked"),  # not a trusted server
        (
            [
                "mx.support.test; dmarc=fail header.from=client.ru",
                "mx.support.test; dmarc=pass header.from=client.ru",
            ],
            "fail",
        ),  # the planted one is lower
        (["mx.support.test; spf=pass smtp.mailfrom=client.ru"], "none"),
    ],
)
def test_the_dmarc_verdict_of_the_topmost_trusted_server(headers: list[str], verdict: str) -> None:
    raw = "".join(f"Authentication-Results: {h}\r\n" for h in headers)
    message = message_from_bytes(
        f"{raw}From: a@client.ru\r\n\r\nhi\r\n".encode(), policy=policy.default
    )
    assert dmarc_verdict(message, ["mx.support.test"], "a@client.ru") == verdict


async def test_a_report_csv_runs_no_formula(sessions: SessionFactory, tmp_path: Path) -> None:
    await seed_week(sessions)
    async with sessions() as session:
        await session.execute(update(Operator).values(name='=HYPERLINK("http://evil.test","x")'))
        await session.commit()
    calendar = BusinessCalendar(MOSCOW, (dt.time(9), dt.time(18)), frozenset(range(1, 6)))
    contents = await gather(
        sessions,
        calendar,
        parse_period("2026-11-02..2026-11-08", MOSCOW, NOW),
        now=NOW,
        recontact_days=3,
        split_by="operator",
    )
    target = tmp_path / "week.csv"
    write_csv(contents, target)
    with target.open(encoding="utf-8") as handle:
        names = [row["operator"] for row in csv.DictReader(handle)]
    assert any(name.startswith("'=HYPERLINK") for name in names)
    assert not any(name[:1] in "=+-@" for name in names)
