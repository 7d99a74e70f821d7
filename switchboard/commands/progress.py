"""A progress bar for the CLI's long commands (kb import, calibrate, export; a long report):
a spinner and the step being done, on stderr so the command's output stays clean, and
nothing at all when stderr is not a terminal (pipes, cron, tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

__all__ = ["Step", "steps"]

Step = Callable[[str], None]


@contextmanager
def steps(total: int) -> Iterator[Step]:
    """`step("what now")` marks the previous step done and names the next one."""
    console = Console(stderr=True)
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with bar:
        task = bar.add_task("", total=total)
        started = False

        def step(description: str) -> None:
            nonlocal started
            bar.update(task, description=description, advance=1 if started else 0)
            started = True

        yield step
        bar.update(task, completed=total)
