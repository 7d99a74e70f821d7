"""The report's PNG: daily volume by channel (bot-settled vs handed to a person) above,
first-response median and SLA compliance below.

`chart_data` turns daily figures into the series to draw (a plain value, easy to test);
`render_chart` draws them with matplotlib's Agg canvas — no pyplot, no global state —
and reads back what matplotlib actually holds, so tests can see the plotted series.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from admin.reports.figures import DayFigures

__all__ = ["Chart", "ChartData", "chart_data", "render_chart"]

LABELS = {
    "ru": {
        "bot": "бот",
        "human": "оператор",
        "volume": "Обращения по дням",
        "frt": "Первый ответ, медиана (мин)",
        "sla": "SLA, %",
        "empty": "нет данных",
    },
    "en": {
        "bot": "bot",
        "human": "human",
        "volume": "Conversations per day",
        "frt": "First response, median (min)",
        "sla": "SLA met, %",
        "empty": "no data",
    },
}


@dataclass(frozen=True, slots=True)
class ChartData:
    title: str
    days: tuple[str, ...]
    volume: dict[str, tuple[int, ...]]  # "<channel> · bot|human" → conversations per day
    frt_minutes: tuple[float | None, ...]
    sla_percent: tuple[float | None, ...]
    labels: dict[str, str]

    @property
    def empty(self) -> bool:
        return not any(any(counts) for counts in self.volume.values()) and all(
            v is None for v in self.frt_minutes + self.sla_percent
        )


@dataclass(frozen=True, slots=True)
class Chart:
    png: bytes
    width: int
    height: int
    plotted: dict[str, tuple[float, ...]]  # every bar and line series as matplotlib holds it


def chart_data(days: list[DayFigures], *, title: str, language: str) -> ChartData:
    labels = LABELS["ru" if language == "ru" else "en"]
    channels = sorted({channel for day in days for channel, _ in day.volume})
    volume = {
        f"{channel} · {labels['human' if human else 'bot']}": tuple(
            day.volume.get((channel, human), 0) for day in days
        )
        for channel in channels
        for human in (False, True)
    }
    return ChartData(
        title=title,
        days=tuple(day.date.strftime("%d.%m") for day in days),
        volume={name: counts for name, counts in volume.items() if any(counts)},
        frt_minutes=tuple(
            None if day.frt_median is None else round(day.frt_median.total_seconds() / 60, 2)
            for day in days
        ),
        sla_percent=tuple(
            None if day.sla_compliance is None else round(day.sla_compliance * 100, 2)
            for day in days
        ),
        labels=labels,
    )


def _nan(values: tuple[float | None, ...]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def render_chart(data: ChartData, *, width: int = 1200, height: int = 800, dpi: int = 100) -> Chart:
    # matplotlib loads only when a chart is drawn, and only its Agg canvas: no pyplot state
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    volume_axes, time_axes = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    sla_axes = time_axes.twinx()
    positions = list(range(len(data.days)))
    bottom = [0.0] * len(positions)
    colours: dict[str, int] = {}
    for name, counts in data.volume.items():
        channel, _, kind = name.partition(" · ")
        colour = f"C{colours.setdefault(channel, len(colours))}"
        human = kind == data.labels["human"]
        volume_axes.bar(
            positions,
            counts,
            bottom=bottom,
            label=name,
            color=colour,
            alpha=1.0 if human else 0.45,
            hatch="//" if human else None,
            edgecolor="white",
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    volume_axes.set_title(data.title)
    volume_axes.set_ylabel(data.labels["volume"])
    volume_axes.margins(y=0.12)  # headroom above the tallest bar
    if data.volume:
        # beside the plot, never on it: with one day the only bars sit where a legend would
        volume_axes.legend(
            loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0.0
        )
    if data.empty:
        volume_axes.text(
            0.5,
            0.5,
            data.labels["empty"],
            transform=volume_axes.transAxes,
            ha="center",
            va="center",
            fontsize="x-large",
            color="grey",
        )
    time_axes.plot(
        positions, _nan(data.frt_minutes), marker="o", color="C0", label=data.labels["frt"]
    )
    sla_axes.plot(
        positions, _nan(data.sla_percent), marker="s", color="C3", label=data.labels["sla"]
    )
    time_axes.set_ylabel(data.labels["frt"])
    sla_axes.set_ylabel(data.labels["sla"])
    sla_axes.set_ylim(0, 105)
    time_axes.set_ylim(bottom=0)
    time_axes.set_xticks(positions, data.days, rotation=45 if len(positions) > 10 else 0)
    if positions:
        time_axes.set_xlim(-0.6, len(positions) - 0.4)
    volume_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    time_axes.legend(
        handles=[*time_axes.get_lines(), *sla_axes.get_lines()],
        loc="upper left",
        bbox_to_anchor=(1.08, 1.0),
        fontsize="small",
        borderaxespad=0.0,
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plotted: dict[str, tuple[float, ...]] = {}
    for container in volume_axes.containers:
        plotted[str(container.get_label())] = tuple(float(bar.get_height()) for bar in container)
    for line in (*time_axes.get_lines(), *sla_axes.get_lines()):
        plotted[str(line.get_label())] = tuple(float(y) for y in line.get_ydata())
    return Chart(buffer.getvalue(), width, height, plotted)
