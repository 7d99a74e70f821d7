"""`switchboard kb …` run as a real process against the test database and Redis."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.knowledge import KnowledgeBase
from core.db import SessionFactory
from core.models import KbMiss
from kb.articles import Article

REPO = Path(__file__).resolve().parents[1]
SAMPLE_KB = REPO / "switchboard" / "sample_kb" / "bank.yaml"
RUN_KB_APP = "from switchboard.commands.kb import kb_app; kb_app(prog_name='switchboard kb')"
Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(
    database_url: str, redis_url: str, tmp_path: Path, sessions: SessionFactory, redis: Redis
) -> dict[str, str]:
    """The environment of a `switchboard kb` process; the `sessions`/`redis` fixtures empty
    the database and Redis afterwards."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(REPO),
    }


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Cli:
    """Run `switchboard kb ARGS` in a subprocess."""

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", RUN_KB_APP, *args],
            input=stdin,
            env=cli_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


async def test_import_match_and_search(cli: Cli, sessions: SessionFactory, redis: Redis) -> None:
    imported = cli("import", str(SAMPLE_KB))
    assert imported.returncode == 0, imported.stderr
    assert "question variants" in imported.stdout and "chosen" in imported.stdout
    assert "meaning vectors" not in imported.stderr  # no progress bar in a pipe
    questions = ["я потерял карту", "I lost my card", "", "какая завтра погода в Сочи"]
    matched = cli("match", stdin="\n".join(questions) + "\n")
    assert matched.returncode == 0, matched.stderr
    lines = [json.loads(line) for line in matched.stdout.splitlines()]
    assert [line["question"] for line in lines] == questions
    assert [(line["article_id"], line["decision"]) for line in lines] == [
        ("card-lost", "answer"),
        ("card-lost-en", "answer"),
        (None, "handoff"),
        (None, "handoff"),
    ]
    assert all(isinstance(line["score"], float) for line in lines)
    searched = cli("search", "заблокировать потерянную карточку")
    assert searched.returncode == 0, searched.stderr
    assert "card-lost" in searched.stdout and "decision:" in searched.stdout
    vague = cli("search", "карта")
    assert vague.returncode == 0, vague.stderr
    assert "decision: clarify" in vague.stdout


def test_an_import_shows_each_step_on_a_terminal(cli_env: dict[str, str], tmp_path: Path) -> None:
    """The progress bar goes to stderr when it is a terminal (here a pseudo-terminal), naming
    each step; the command's own output stays plain."""
    terminal, their_end = pty.openpty()
    fcntl.ioctl(their_end, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_KB_APP, "import", str(SAMPLE_KB)],
        stdout=subprocess.PIPE,
        stderr=their_end,
        env={**cli_env, "TERM": "xterm-256color"},
        cwd=tmp_path,
        text=True,
    )
    os.close(their_end)
    shown = b""
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(terminal)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    screen = shown.decode(errors="replace")
    for step in ("importing", "meaning vectors", "calibrating"):
        assert step in screen, screen[-2000:]
    assert "question variants" in output and "\x1b" not in output


async def test_an_excel_csv_import_tells_what_it_guessed_and_keeps_the_vectors(
    cli: Cli, sessions: SessionFactory, redis: Redis, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "article_id;question;answer;category\r\n"
        "mortgage;Как оформить ипотеку;Заявка в приложении.;mortgages\r\n"
        "mortgage;Ипотека на квартиру;;\r\n".encode("cp1251")
    )
    imported = cli("import", str(path), "--no-calibrate")
    assert imported.returncode == 0, imported.stderr
    assert "1 article(s) taken as ru from their text (mortgage)" in imported.stdout
    assert "unknown category 'mortgages' (mortgage)" in imported.stdout
    [article] = await KnowledgeBase(sessions, redis).export_articles()
    assert (article.language, article.questions) == (
        "ru",
        ("Как оформить ипотеку", "Ипотека на квартиру"),
    )
    stored = list((tmp_path / "var" / "kb-vectors").iterdir())
    assert stored and all(f.stat().st_mode & 0o777 == 0o600 for f in stored)


async def test_a_bad_import_names_the_line_and_changes_nothing(
    cli: Cli, sessions: SessionFactory, redis: Redis, tmp_path: Path
) -> None:
    await KnowledgeBase(sessions, redis).save_article(Article("kept", "", "Ответ.", ("Вопрос",)))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "article_id,question,answer,category\n"
        "new-one,Вопрос один,Ответ,general\n"
        "new-two,,Ответ,general\n",
        encoding="utf-8",
    )
    result = cli("import", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3: article new-two: empty question" in result.stderr
    assert [a.id for a in await KnowledgeBase(sessions, redis).export_articles()] == ["kept"]


async def test_export_then_import_round_trips(
    cli: Cli, sessions: SessionFactory, redis: Redis, tmp_path: Path
) -> None:
    kb = KnowledgeBase(sessions, redis)
    await kb.import_file(SAMPLE_KB)
    before = await kb.export_articles()
    exported = cli("export", str(tmp_path / "kb.yaml"))  # CSV: tests/test_kb_formats.py
    assert exported.returncode == 0, exported.stderr
    again = cli("import", "--replace", "--no-calibrate", str(tmp_path / "kb.yaml"))
    assert again.returncode == 0, again.stderr
    assert f"0 new, {len(before)} updated, 0 removed" in again.stdout
    assert await kb.export_articles() == before


async def test_eval_calibrate_and_gaps(
    cli: Cli, sessions: SessionFactory, redis: Redis, tmp_path: Path
) -> None:
    await KnowledgeBase(sessions, redis).import_file(SAMPLE_KB)
    labelled = tmp_path / "labelled.csv"
    labelled.write_text(
        "question,article_id\n"
        "я потерял карту,card-lost\n"
        "как разблокировать карту,card-found-after-block\n"
        "I lost my card,card-lost-en\n"
        "посоветуйте хороший сериал,\n",
        encoding="utf-8",
    )
    evaluated = cli("eval", str(labelled))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "3 in-scope and 1 out-of-scope questions" in evaluated.stdout
    assert "in-scope accuracy 100.0%" in evaluated.stdout
    assert "out-of-scope recall 100.0%" in evaluated.stdout

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("question,article_id\nвопрос,no-such-article\n", encoding="utf-8")
    refused = cli("eval", str(unknown))
    assert refused.returncode == 1 and "no-such-article" in refused.stderr

    calibrated = cli("calibrate", "--oos-recall", "0.8")
    assert calibrated.returncode == 0, calibrated.stderr
    assert "← chosen" in calibrated.stdout and "handed off" in calibrated.stdout

    async with sessions.begin() as session:
        session.add_all(
            KbMiss(question=q)
            for q in [
                "как открыть вклад",
                "открыть вклад онлайн",
                "вклад под высокий процент",
                "где ближайший банкомат",
                "банкомат рядом с метро",
                "курс доллара сегодня",
            ]
        )
    gaps = cli("gaps", "--clusters", "3")
    assert gaps.returncode == 0, gaps.stderr
    assert "вклад" in gaps.stdout and "банкомат" in gaps.stdout
