"""Report figures from a scripted week: every expected number is worked out by hand from
the timeline in tests/reports_week.py."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import matplotlib.image
import pytest
from reports_week import MOSCOW, NOW, msk, seed_week

from admin.reports import (
    PeriodError,
    Report,
    build_report,
    daily_summary,
    next_summary_at,
    parse_period,
    period_between,
    run_daily_summaries,
)
from admin.reports.chart import chart_data, render_chart
from admin.reports.contents import gather
from admin.reports.facts import ConversationFacts
from admin.reports.figures import Durations, compute_figures
from admin.reports.gaps import GapCluster
from admin.reports.period import Period
from admin.reports.table import write_csv
from core.db import SessionFactory
from core.models import KbMiss
from routing.service_levels import BusinessCalendar

WEEK = "2026-11-02..2026-11-08"


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


@pytest.fixture
def calendar() -> BusinessCalendar:
    return BusinessCalendar(MOSCOW, (dt.time(9), dt.time(18)), frozenset(range(1, 6)))


# -- periods -----------------------------------------------------------------------------


def test_periods_are_cut_at_local_midnight() -> None:
    week = parse_period(WEEK, MOSCOW, NOW)
    assert week.start == dt.datetime(2026, 11, 1, 21, tzinfo=dt.UTC)
    assert week.end == dt.datetime(2026, 11, 8, 21, tzinfo=dt.UTC)
    # 01:00 Moscow on the 2nd is still the 1st in UTC, and belongs to the 2nd
    assert msk(2, 1).date() == dt.date(2026, 11, 1) and week.contains(msk(2, 1))
    # 01:30 Moscow on the 9th is the 8th in UTC, and is outside the week
    assert msk(9, 1, 30).date() == dt.date(2026, 11, 8) and not week.contains(msk(9, 1, 30))
    assert week.days()[0] == dt.date(2026, 11, 2) and len(week.days()) == 7

    today = parse_period("today", MOSCOW, dt.datetime(2026, 11, 4, 22, 30, tzinfo=dt.UTC))
    assert today.start == msk(5, 0)  # 22:30 UTC on the 4th is already the 5th in Moscow
    assert parse_period("yesterday", MOSCOW, NOW).start == msk(8, 0)
    assert parse_period("week", MOSCOW, NOW).start == msk(3, 0)
    assert parse_period("week", MOSCOW, NOW).end == msk(10, 0)
    assert parse_period("month", MOSCOW, NOW).start == msk(9, 0) - dt.timedelta(days=29)
    assert parse_period("2026-11-05", MOSCOW, NOW).end == msk(6, 0)


def test_since_until_bounds() -> None:
    period = period_between("2026-11-02", "2026-11-08", MOSCOW, NOW)
    assert (period.start, period.end) == (msk(2, 0), msk(9, 0))
    exact = period_between("2026-11-02T09:30", "2026-11-02T18:00", MOSCOW, NOW)
    assert (exact.start, exact.end) == (msk(2, 9, 30), msk(2, 18))
    assert period_between(None, "2026-11-08", MOSCOW, NOW).start == msk(2, 0)


@pytest.mark.parametrize("text", ["fortnight", "2026-13-01", "2026-11-08..2026-11-01", ""])
def test_bad_periods_are_explained(text: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text, MOSCOW, NOW)
    assert "2026-11-01..2026-11-07" in caught.value.describe("en")
    assert "Не понимаю период" in caught.value.describe("ru")


# -- business time -----------------------------------------------------------------------


def test_business_time_excludes_nights_and_weekends(calendar: BusinessCalendar) -> None:
    assert calendar.between(msk(2, 17, 31), msk(3, 9, 20)) == minutes(49)  # over a night
    assert calendar.between(msk(6, 17), msk(9, 10)) == minutes(120)  # Fri → Mon over a weekend
    assert calendar.between(msk(7, 12), msk(7, 12, 20)) == dt.timedelta(0)  # all on Saturday
    assert calendar.between(msk(2, 1), msk(2, 1, 30)) == dt.timedelta(0)  # a night
    assert calendar.between(msk(3, 11), msk(3, 11, 15)) == minutes(15)
    assert calendar.between(msk(3, 12), msk(3, 11)) == dt.timedelta(0)
    holiday = calendar.with_holidays([dt.date(2026, 11, 3)])
    assert holiday.between(msk(2, 17, 31), msk(3, 9, 20)) == minutes(29)  # Tuesday off
    assert holiday.between(msk(2, 17, 31), msk(4, 9, 20)) == minutes(49)
    # `between` undoes `add`, across nights and weekends
    assert calendar.between(msk(6, 17, 50), calendar.add(msk(6, 17, 50), minutes(240))) == minutes(
        240
    )


def test_durations_median_and_nearest_rank_p90() -> None:
    spread = Durations.of([minutes(n) for n in (949, 15, 270, 20)])
    assert (spread.count, spread.median, spread.p90) == (4, minutes(145), minutes(949))
    assert Durations.of([]) == Durations(0, None, None)


# -- the scripted week --------------------------------------------------------------------


async def test_scripted_week_gives_the_hand_computed_figures(
    sessions: SessionFactory, calendar: BusinessCalendar
) -> None:
    week = await seed_week(sessions)
    contents = await gather(
        sessions, calendar, parse_period(WEEK, MOSCOW, NOW), now=NOW, recontact_days=3
    )
    f = contents.total
    # created in the week: C1 C2 C3 C9 C4 C6 C5 C7 (C8 is the 9th in Moscow)
    assert f.conversations == 8
    assert f.handed_off == 6 and f.handoff_share == 0.75
    assert f.off_hours == 3 and f.off_hours_share == 3 / 8  # C1 night, C5 Saturday, C7 Sunday
    # closed: C1 C2 C3 C9 C4 C5; only C1 is the bot's (C9's client came back on cards)
    assert (f.closed, f.bot_resolved) == (6, 1)
    # of the settled ones (1 by the bot, 6 handed to operators), the bot's part
    assert f.bot_resolution_share == pytest.approx(1 / 7)
    # FCR among C2 C3 C4 C5: C3's client came back on payments within 3 days
    assert (f.human_closed, f.first_contact_resolved, f.fcr_share) == (4, 3, 0.75)
    # first responses: C2 949 (49 in business hours), C3 15, C4 270, C5 20 (0 on Saturday)
    assert f.frt == Durations(4, minutes(145), minutes(949))
    assert f.frt_business == Durations(4, minutes(32), minutes(270))
    # resolution: 30 30 40 45 300 990 / business 0 0 30 45 90 300
    assert f.resolution == Durations(6, minutes(42.5), minutes(990))
    assert f.resolution_business == Durations(6, minutes(37.5), minutes(300))
    # SLA: C2 C3 C5 met; C4 late by 30 min; C7 unanswered past its deadline; C6 still pending
    assert (f.sla_met, f.sla_breached, f.sla_pending) == (3, 2, 1)
    assert f.sla_compliance == 0.6
    assert [(b.conversation_id, b.late_by) for b in f.breaches] == [
        (week.conversations["C4"], minutes(30)),
        (week.conversations["C7"], NOW - msk(8, 20, 30)),
    ]
    # CSAT over conversations an operator closed (C2 C3 C4 C5): ratings 5, 3, 4
    assert f.ratings == (0, 0, 1, 1, 1)
    assert (f.csat_average, f.csat_responses, f.csat_response_rate) == (4.0, 3, 0.75)
    # operators held: C2 50, C3 40, C4 30 (Павел) + 120 (Ольга), C5 30
    assert f.operator_minutes == pytest.approx(270)
    assert [(a.article_id, a.title, a.answers) for a in contents.top_articles] == [
        ("card-limits", "Лимиты по карте", 2),
        ("card-lost", "Карта потеряна", 1),
    ]

    by_channel = {row.key: row.figures for row in contents.rows}
    assert list(by_channel) == ["telegram", "vk", "email", "web"]
    telegram = by_channel["telegram"]
    assert (
        telegram.conversations,
        telegram.handed_off,
        telegram.closed,
        telegram.bot_resolved,
    ) == (4, 2, 3, 1)
    assert (telegram.sla_met, telegram.sla_breached, telegram.sla_pending) == (0, 1, 1)
    assert by_channel["vk"].sla_compliance == 0.5

    consumption = [
        (c.label, c.tier, c.conversations, round(c.operator_minutes), c.against_tier)
        for c in contents.consumption
    ]
    assert consumption == [
        (f"#{week.clients['Вера']} Вера", "standard", 3, 190, pytest.approx(190 / 110)),
        (f"#{week.clients['Борис']} Борис", "vip", 3, 50, 1.0),
        (f"#{week.clients['Анна']} Анна", "standard", 2, 30, pytest.approx(30 / 110)),
    ]


def test_a_question_closed_before_its_deadline_unanswered_is_no_sla_breach(
    calendar: BusinessCalendar,
) -> None:
    """Its client took it off the queue after the bot's answer (or it was merged): nobody
    owed it an answer any more. One left waiting past its deadline is a breach."""
    week = parse_period(WEEK, MOSCOW, NOW)
    waiting = ConversationFacts(
        id=1,
        client_id=1,
        client_label="#1",
        tier="standard",
        channel="web",
        category="general",
        group="support",
        operator_id=None,
        created_at=msk(3, 10),
        handed_off=True,
        queued_at=msk(3, 10),
        deadline=msk(3, 18),
        first_response_at=None,
        closed_at=None,
        closed_by_operator=False,
        reopened=False,
        rating=None,
        recontacted=False,
        holdings=(),
    )
    withdrawn = replace(waiting, id=2, client_id=2, closed_at=msk(3, 10, 5))
    figures = compute_figures([waiting, withdrawn], week, calendar, NOW)
    assert (figures.sla_met, figures.sla_breached, figures.sla_pending) == (0, 1, 0)
    assert [breach.conversation_id for breach in figures.breaches] == [1]


async def test_split_by_operator_counts_each_operators_own_time(
    sessions: SessionFactory, calendar: BusinessCalendar
) -> None:
    await seed_week(sessions)
    contents = await gather(
        sessions,
        calendar,
        parse_period(WEEK, MOSCOW, NOW),
        now=NOW,
        recontact_days=3,
        split_by="operator",
    )
    rows = {row.key: row.figures for row in contents.rows}
    assert set(rows) == {"Ольга", "Павел", "—"}
    assert rows["Ольга"].conversations == 3  # C2 C3 C4 (closed by her)
    assert rows["Ольга"].operator_minutes == pytest.approx(50 + 40 + 120)
    assert rows["Павел"].operator_minutes == pytest.approx(
        30 + 30
    )  # C4 before his lease expired, C5
    assert rows["Павел"].frt == Durations(1, minutes(20), minutes(20))
    assert rows["—"].conversations == 4 and rows["—"].operator_minutes == 0


async def test_recontact_window_is_a_setting(
    sessions: SessionFactory, calendar: BusinessCalendar
) -> None:
    await seed_week(sessions)
    contents = await gather(
        sessions, calendar, parse_period(WEEK, MOSCOW, NOW), now=NOW, recontact_days=1
    )
    # with one day, neither Вера's return (1 d 22 h) nor Борис's (2 d 5 h) is a re-contact
    assert contents.total.bot_resolved == 2
    assert contents.total.first_contact_resolved == 4


async def test_empty_period_gives_zeros_and_no_data(
    sessions: SessionFactory, calendar: BusinessCalendar
) -> None:
    await seed_week(sessions)
    report = await build_report(
        sessions, calendar, "2026-10-01..2026-10-07", language="ru", now=NOW
    )
    f = report.contents.total
    assert (f.conversations, f.closed, f.sla_met, f.sla_breached, f.operator_minutes) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert f.sla_compliance is None and f.csat_average is None and f.frt.median is None
    assert f.empty and report.contents.rows == []
    assert "Нет данных" in report.text
    assert report.png.startswith(b"\x89PNG\r\n\x1a\n")
    english = await build_report(sessions, calendar, "2026-10-01", language="en", now=NOW)
    assert "No data" in english.text


async def test_summary_text_in_both_languages(
    sessions: SessionFactory, calendar: BusinessCalendar
) -> None:
    week = await seed_week(sessions)

    async def clusters(period: Period) -> list[GapCluster]:
        return [GapCluster("перевыпуск карты", 4)]

    ru = await build_report(sessions, calendar, WEEK, language="ru", now=NOW, gaps=clusters)
    lines = ru.text.splitlines()
    assert lines[0] == "Отчёт: 2026-11-02..2026-11-08 (02.11.2026 — 08.11.2026, Europe/Moscow)"
    assert "Обращений: 8; вне рабочего времени: 3 (38%)" in lines
    assert (
        "Первый ответ: медиана 2 ч 25 мин, p90 15 ч 49 мин; в рабочих часах: медиана 32 мин, p90 4 ч 30 мин"
        in lines
    )
    assert "SLA: вовремя 3 из 5 (60%); нарушений: 2; ждут ответа: 1" in lines
    assert "Оценка: 4.0 из 5 (оценок: 3, откликнулись 75%)" in lines
    assert "Без ответа в базе знаний: «перевыпуск карты» (4)" in lines
    assert (
        f"Больше всех времени операторов: #{week.clients['Вера']} Вера (standard) — 3 ч 10 мин, "
        "1.7× от среднего по тарифу"
    ) in lines
    en = await build_report(sessions, calendar, WEEK, language="en", now=NOW)
    assert (
        "Settled by the bot: 1 (14%); pending, the client may come back: 0; "
        "handed to operators: 6 (75%)"
    ) in en.text
    assert "Resolved on first contact: 3 of 4 (75%)" in en.text


async def test_handed_off_questions_of_the_period_are_clustered(
    sessions: SessionFactory, calendar: BusinessCalendar
) -> None:
    await seed_week(sessions)
    async with sessions() as session:
        session.add_all(
            [
                KbMiss(question=q, at=msk(3, 12))
                for q in (
                    "как перевыпустить карту",
                    "перевыпуск карты сколько стоит",
                    "перевыпустить карту срочно",
                    "ипотека для пенсионеров",
                    "ипотека для пенсионеров условия",
                )
            ]
        )
        session.add(KbMiss(question="вклад в юанях", at=msk(9, 12)))  # after the week
        await session.commit()
    report = await build_report(sessions, calendar, WEEK, language="ru", now=NOW)
    assert sorted(g.questions for g in report.contents.gaps) == [2, 3]
    biggest = report.contents.gaps[0]
    assert biggest.questions == 3 and "карт" in biggest.label
    assert "Без ответа в базе знаний: «" in report.text
    assert "юан" not in report.text


# -- CSV and chart ----------------------------------------------------------------------------


async def test_csv_columns_and_values(
    sessions: SessionFactory, calendar: BusinessCalendar, tmp_path: Path
) -> None:
    await seed_week(sessions)
    contents = await gather(
        sessions,
        calendar,
        parse_period(WEEK, MOSCOW, NOW),
        now=NOW,
        recontact_days=3,
        split_by="category",
    )
    target = tmp_path / "week.csv"
    write_csv(contents, target)
    with target.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = {row["category"]: row for row in reader}
        header = reader.fieldnames
    assert header is not None and header[:4] == [
        "category",
        "conversations",
        "handed_off",
        "off_hours_pct",
    ]
    assert "sla_compliance_pct" in header and "frt_business_median_min" in header
    assert set(rows) == {"payments", "cards", "fraud", "account", "lost_card", "total"}
    assert rows["payments"]["conversations"] == "2"
    assert rows["payments"]["frt_median_min"] == "142.5"  # 15 and 270
    assert rows["payments"]["sla_compliance_pct"] == "50.0"
    assert rows["payments"]["fcr_pct"] == "50.0"
    assert rows["payments"]["operator_minutes"] == "190.0"
    assert rows["lost_card"]["frt_median_min"] == ""  # no first response: empty, not zero
    assert rows["total"]["conversations"] == "8"
    assert rows["total"]["csat_average"] == "4.0"
    assert rows["total"]["resolution_business_median_min"] == "37.5"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the signature and its CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(kind + body) == crc
    width, height = struct.unpack(">II", body[:8])
    assert data.endswith(b"IEND\xaeB`\x82")
    return width, height


async def test_chart_shows_the_expected_series(
    sessions: SessionFactory, calendar: BusinessCalendar, tmp_path: Path
) -> None:
    await seed_week(sessions)
    report = await build_report(sessions, calendar, WEEK, language="en", now=NOW)
    data = report.chart
    assert data.days == ("02.11", "03.11", "04.11", "05.11", "06.11", "07.11", "08.11")
    assert data.volume == {
        "email · human": (0, 1, 0, 0, 0, 0, 0),
        "telegram · bot": (1, 0, 1, 0, 0, 0, 0),
        "telegram · human": (0, 0, 0, 1, 1, 0, 0),
        "vk · human": (1, 0, 0, 0, 0, 0, 1),
        "web · human": (0, 0, 0, 0, 0, 1, 0),
    }
    assert data.frt_minutes == (949.0, 15.0, None, 270.0, None, 20.0, None)
    assert data.sla_percent == (100.0, 100.0, None, 0.0, None, 100.0, 0.0)
    chart = render_chart(data, width=900, height=600)
    assert png_size(chart.png) == (900, 600)
    assert png_size(report.png) == (1200, 800)
    assert chart.plotted["telegram · human"] == (0, 0, 0, 1, 1, 0, 0)
    assert chart.plotted["First response, median (min)"][3] == 270.0
    assert chart.plotted["SLA met, %"][:2] == (100.0, 100.0)
    target = tmp_path / "week.png"
    target.write_bytes(report.png)
    pixels = matplotlib.image.imread(target)
    assert pixels.shape[:2] == (800, 1200)
    assert pixels.std() > 0.01  # something is drawn


def test_chart_of_an_empty_period_still_renders() -> None:
    data = chart_data([], title="—", language="ru")
    assert data.empty and data.volume == {}
    chart = render_chart(data, width=400, height=300)
    assert png_size(chart.png) == (400, 300)


async def test_daily_summary_sends_yesterdays_report(
    sessions: SessionFactory, calendar: BusinessCalendar
) -> None:
    await seed_week(sessions)
    sent = []

    async def send(report: object) -> None:
        sent.append(report)

    report = await daily_summary(sessions, calendar, send, language="ru", now=NOW)
    assert sent == [report]
    assert (
        report.contents.period.start == msk(8, 0) and report.contents.total.conversations == 1
    )  # C7
    assert "Обращений: 1; вне рабочего времени: 1 (100%)" in report.text


async def test_daily_summaries_run_at_the_local_hour_and_survive_a_failed_send(
    sessions: SessionFactory, calendar: BusinessCalendar
) -> None:
    await seed_week(sessions)
    now = [msk(9, 7)]
    slept: list[float] = []
    periods: list[dt.datetime] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += dt.timedelta(seconds=seconds)

    async def send(report: Report) -> None:
        periods.append(report.contents.period.start)
        if len(periods) == 1:
            raise RuntimeError("admin chat unreachable")
        raise asyncio.CancelledError  # stop the loop after the second day

    with pytest.raises(asyncio.CancelledError):
        await run_daily_summaries(
            sessions,
            calendar,
            send,
            at=dt.time(9),
            language="en",
            clock=lambda: now[0],
            sleep=sleep,
        )
    assert slept == [2 * 3600, 24 * 3600]
    assert periods == [msk(8, 0), msk(9, 0)]  # each morning: the day before, in Moscow
    assert next_summary_at(msk(9, 9), dt.time(9), MOSCOW) == msk(10, 9)
