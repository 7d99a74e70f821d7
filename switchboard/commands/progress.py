"""A progress bar for the CLI's long commands (kb import, calibrate, export; a long report):
a spinner, the step being done and how far it got, on stderr so the command's output
stays clean, and nothing at all when stderr is not a terminal (pipes, cron)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["Steps", "steps"]


class Steps:
    """`step("what now")` marks the previous step done and names the next one;
    `step.within(done, total)` says how far the current step got (texts encoded, say)."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task
        self._description = ""
        self._started = False

    def __call__(self, description: str) -> None:
        self._description = description
        self._bar.update(self._task, description=description, advance=1 if self._started else 0)
        self._bar.refresh()  # every step is shown, however quick
        self._started = True

    def within(self, done: int, total: int) -> None:
        self._bar.update(self._task, description=f"{self._description} {done}/{total}")


@contextmanager
def steps(total: int) -> Iterator[Steps]:
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
        yield Steps(bar, task)
        bar.update(task, completed=total)
