"""`switchboard kb …`: manage and test the knowledge base from the command line.

The knowledge base's modules (scikit-learn, the sentence encoder) are imported by the commands
that use them, so that `switchboard --help` does not load them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from switchboard.commands.services import Services, run_command

if TYPE_CHECKING:
    from bot.knowledge import KnowledgeBase
    from kb.articles import Article
    from kb.calibration import Calibration
    from kb.evaluation import Evaluation
    from kb.formats import KbFileError
    from kb.gaps import Gap
    from kb.index import Match
    from switchboard.settings import Settings

kb_app = typer.Typer(
    help="The knowledge base: import, export, search, test, calibrate.", no_args_is_help=True
)

_MATCH_BATCH = 256


def _knowledge(services: Services) -> KnowledgeBase:
    from bot.knowledge import VECTORS_DIR, KnowledgeBase

    return KnowledgeBase(services.sessions, services.redis, services.settings.var_dir / VECTORS_DIR)


async def _loaded(services: Services) -> KnowledgeBase:
    kb = _knowledge(services)
    await kb.load()
    return kb


def _default_oos_recall() -> float | None:
    from kb.holdout import DEFAULT_OOS_RECALL

    return DEFAULT_OOS_RECALL


def _fail(error: KbFileError) -> typer.Exit:
    typer.echo(str(error), err=True)
    return typer.Exit(1)


@kb_app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="a client's question")],
    limit: Annotated[int, typer.Option(min=1, max=50, help="how many articles to show")] = 5,
) -> None:
    """Rank the articles for a question and show what the bot would decide."""

    async def work(services: Services) -> tuple[Match, list[tuple[str, str, str, float]]]:
        kb = await _loaded(services)
        hits = kb.index.search(text, limit)
        return kb.index.decide(text), [
            (h.article.id, h.article.title, h.article.category or "", h.score) for h in hits
        ]

    match, hits = run_command(work)
    table = Table("score", "article", "title", "category")
    for article_id, title, category, score in hits:
        table.add_row(f"{score:.3f}", article_id, title, category)
    console = Console()
    console.print(table)
    offered = ", ".join(h.article.id for h in match.hits) if match.hits else "-"
    console.print(
        f"decision: {match.decision.value} (confidence {match.confidence:.2f}; {offered})"
    )


@kb_app.command("match")
def match() -> None:
    """Test questions in bulk: one per line on stdin, one JSON line each on stdout.

    Each line: {"question", "article_id" (null when handed off), "score", "decision",
    "confidence"}."""
    from kb.index import Decision

    questions = [line.rstrip("\r\n") for line in sys.stdin]

    async def work(services: Services) -> list[Match]:
        kb = await _loaded(services)
        matches: list[Match] = []
        for start in range(0, len(questions), _MATCH_BATCH):
            batch = questions[start : start + _MATCH_BATCH]
            matches.extend(await asyncio.to_thread(kb.index.decide_many, batch))
        return matches

    for question, found in zip(questions, run_command(work), strict=True):
        best = found.hits[0] if found.hits else None
        answered = best is not None and found.decision is not Decision.HANDOFF
        typer.echo(
            json.dumps(
                {
                    "question": question,
                    "article_id": best.article.id if answered and best else None,
                    "score": round(best.score, 4) if best else 0.0,
                    "decision": found.decision.value,
                    "confidence": round(found.confidence, 4),
                },
                ensure_ascii=False,
            )
        )


@kb_app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="a .yaml/.yml file, or a .csv or .xlsx table (article_id,question,answer,category)"
        ),
    ],
    replace: Annotated[bool, typer.Option(help="delete articles that are not in the file")] = False,
    recalibrate: Annotated[
        bool,
        typer.Option("--calibrate/--no-calibrate", help="recalibrate the thresholds on the new KB"),
    ] = True,
) -> None:
    """Import articles (all or nothing); a bad file is reported line by line and changes nothing."""
    from kb.formats import KbFileError, read_file
    from switchboard.commands.progress import steps

    try:
        loaded = read_file(file)
    except KbFileError as exc:
        raise _fail(exc) from None
    articles = loaded.articles
    for note in loaded.notes:
        typer.echo(f"{file}: {note}")

    async def work(services: Services) -> tuple[str, Calibration | None]:
        _report_unknown_categories(articles, services.settings)
        kb = _knowledge(services)
        step(f"importing {len(articles)} articles")
        summary = await kb.import_articles(articles, replace=replace)
        step("meaning vectors")
        await kb.embed_variants(step.within)
        if recalibrate:
            step("calibrating")
        calibration = await kb.calibrate() if recalibrate else None
        return (
            f"imported {file}: {summary.created} new, {summary.updated} updated, "
            f"{summary.removed} removed; {summary.variants} question variants"
        ), calibration

    with steps(3 if recalibrate else 2) as step:
        message, calibration = run_command(work)
    typer.echo(message)
    if calibration is not None:
        _report_calibration(calibration)


@kb_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="a .yaml/.yml or .csv file to write")],
) -> None:
    """Write every article to a YAML file (or CSV, by extension) that `kb import` reads back."""
    if file.suffix.lower() not in {".yaml", ".yml", ".csv"}:
        typer.echo(f"{file}: use a .yaml, .yml or .csv name", err=True)
        raise typer.Exit(2)

    from kb.formats import write_file
    from switchboard.commands.progress import steps

    async def work(services: Services) -> int:
        step("reading the articles")
        articles = await _knowledge(services).export_articles()
        step(f"writing {len(articles)} articles")
        write_file(file, articles)
        return len(articles)

    with steps(2) as step:
        exported = run_command(work)
    typer.echo(f"exported {exported} articles to {file}")


@kb_app.command("calibrate")
def calibrate(
    oos_recall: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            default_factory=_default_oos_recall,
            help="hand off at least this share of unknown questions (default: the KB's floor)",
        ),
    ],
    labelled: Annotated[
        Path | None,
        typer.Option(
            help="calibrate from labelled questions (CSV question,article_id; empty id = unknown) "
            "instead of the KB's own held-out variants"
        ),
    ] = None,
) -> None:
    """Choose the answer / clarify / hand-off thresholds, store them and report the trade-off."""
    from kb.holdout import calibrate_labelled
    from switchboard.commands.progress import steps

    rows = _labelled_or_exit(labelled) if labelled else None

    async def work(services: Services) -> Calibration:
        if rows is None:
            step("calibrating on the KB's held-out questions")
            return await _knowledge(services).calibrate(min_oos_recall=oos_recall)
        step("loading the knowledge base")
        kb = await _loaded(services)
        _known_or_exit(kb, rows, labelled)
        step(f"calibrating on {len(rows)} labelled questions")
        result = await asyncio.to_thread(
            calibrate_labelled,
            kb.index,
            [q for q, _ in rows],
            [a for _, a in rows],
            min_oos_recall=oos_recall,
        )
        await kb.save_calibration(result)
        return result

    with steps(1 if rows is None else 2) as step:
        calibration = run_command(work)
    _report_calibration(calibration)


def _report_unknown_categories(articles: list[Article], settings: Settings) -> None:
    """Categories the service levels do not define: their hand-offs go to the default."""
    from routing.service_levels import BusinessCalendar, ServiceLevels

    levels = ServiceLevels.load(
        settings.sla_config,
        BusinessCalendar(settings.zone, settings.opening_hours, settings.working_days),
    )
    unknown: dict[str, list[str]] = {}
    for article in articles:
        if article.category and article.category not in levels.categories:
            unknown.setdefault(article.category, []).append(article.id)
    for category, ids in sorted(unknown.items()):
        typer.echo(
            f"unknown category {category!r} ({', '.join(ids[:10])}): not in the "
            f"service levels, so its hand-offs go to {levels.default_category!r}"
        )


def _report_calibration(calibration: Calibration) -> None:
    console = Console()
    if calibration.chosen_point is None:
        console.print(
            f"calibration: {calibration.source} — the KB is too small to measure; "
            "the default thresholds are stored. Add articles (three at least) and "
            "question variants (three to five per article), then calibrate again."
        )
        return
    table = Table(
        "answer threshold",
        "in-scope accuracy",
        "out-of-scope recall",
        "answer precision",
        "handed off",
        title=f"calibration from {calibration.source} ({calibration.queries} held-out questions)",
    )
    chosen = calibration.chosen_point
    for point in calibration.curve:
        mark = point is chosen
        table.add_row(
            f"{point.threshold:.3f}{' ← chosen' if mark else ''}",
            f"{point.in_scope_accuracy:.1%}",
            f"{point.out_of_scope_recall:.1%}",
            f"{point.answer_precision:.1%}",
            f"{point.handoff_share:.1%}",
            style="bold" if mark else None,
        )
    console.print(table)
    if chosen is None:
        return
    console.print(
        f"chosen: answer when P(right) ≥ {chosen.threshold:.3f} — on held-out questions "
        f"{chosen.in_scope_accuracy:.1%} of known questions answered right, "
        f"{chosen.out_of_scope_recall:.1%} of unknown ones handed off, answers "
        f"{chosen.answer_precision:.1%} precise, {chosen.handoff_share:.1%} of all questions "
        f"handed off; clarify when a rival is within "
        f"{calibration.margin:.3f}. Stored; running gateways reload it."
    )


@kb_app.command("eval")
def eval_(
    file: Annotated[
        Path,
        typer.Argument(help="labelled CSV question,article_id (empty id = must be handed off)"),
    ],
) -> None:
    """Measure the KB on labelled questions (accuracy, out-of-scope recall and precision).

    Also lists the articles most often missed and what they were taken for."""
    from kb.evaluation import evaluate

    rows = _labelled_or_exit(file)

    async def work(services: Services) -> Evaluation:
        kb = await _loaded(services)
        _known_or_exit(kb, rows, file)
        return await asyncio.to_thread(
            evaluate, kb.index, [q for q, _ in rows], [a for _, a in rows]
        )

    result = run_command(work)
    console = Console()
    console.print(f"{result.in_scope} in-scope and {result.out_of_scope} out-of-scope questions")
    console.print(
        f"in-scope accuracy {result.in_scope_accuracy:.1%} (answered right "
        f"{result.answered_right}, wrong {result.answered_wrong}; clarified "
        f"{result.clarified}, right one offered in {result.clarified_containing}; "
        f"handed off {result.in_scope_handed_off})"
    )
    console.print(
        f"out-of-scope recall {result.out_of_scope_recall:.1%}, precision "
        f"{result.out_of_scope_precision:.1%} (answered outright "
        f"{result.out_of_scope_answered})"
    )
    worst = result.worst_articles()
    if worst:
        table = Table("article", "missed", "taken for", title="worst articles")
        for article, errors, total, taken_for in worst:
            table.add_row(
                article, f"{errors}/{total}", ", ".join(f"{got} ×{n}" for got, n in taken_for)
            )
        console.print(table)


@kb_app.command("gaps")
def gaps(
    clusters: Annotated[
        int | None,
        typer.Option(
            min=1, max=500, help="number of groups (default: as many as the questions make)"
        ),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="how many clusters to list")] = 10,
    examples: Annotated[int, typer.Option(min=1, max=20, help="examples per cluster")] = 3,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="newest handed-off questions to use (default and most: 3000)"),
    ] = None,
) -> None:
    """Group the questions the bot handed off: the biggest groups are the articles to write next."""
    from kb.gaps import MAX_QUESTIONS, find_gaps

    async def work(services: Services) -> list[Gap]:
        questions = await _knowledge(services).misses(min(limit or MAX_QUESTIONS, MAX_QUESTIONS))
        return await asyncio.to_thread(find_gaps, questions, clusters=clusters, examples=examples)

    found = run_command(work)
    if not found:
        typer.echo("no handed-off questions recorded yet")
        return
    table = Table("questions", "words", "examples", "cohesion")
    for gap in found[:top]:
        table.add_row(
            str(gap.size), ", ".join(gap.terms), "\n".join(gap.examples), f"{gap.cohesion:.2f}"
        )
    Console().print(table)


def _labelled_or_exit(path: Path) -> list[tuple[str, str | None]]:
    from kb.formats import KbFileError, load_labelled

    try:
        return load_labelled(path)
    except KbFileError as exc:
        raise _fail(exc) from None


def _known_or_exit(
    kb: KnowledgeBase, rows: list[tuple[str, str | None]], path: Path | None
) -> None:
    unknown = sorted({a for _, a in rows if a is not None and kb.index.article(a) is None})
    if unknown:
        typer.echo(
            f"{path}: article id(s) not in the knowledge base: {', '.join(unknown[:20])}", err=True
        )
        raise typer.Exit(1)
