"""The short text a manager reads in the admin chat, in Russian or English."""

from __future__ import annotations

import datetime as dt

from admin.reports.contents import ReportContents
from admin.reports.figures import Durations, SlaBreach

__all__ = ["describe_breach", "format_duration", "format_share", "period_name", "summarize"]

TEXTS = {
    "ru": {
        "title": "Отчёт: {label} ({start} — {end}, {zone})",
        "no_data": "Нет данных за этот период.",
        "volume": "Обращений: {n}; вне рабочего времени: {off} ({off_share})",
        "bot": "Бот решил сам: {bot} ({share}); ещё ждём, вернётся ли клиент: {pending}; передано операторам: {handed} ({handed_share})",
        "frt": "Первый ответ: медиана {median}, p90 {p90}; в рабочих часах: медиана {bh_median}, p90 {bh_p90}",
        "resolution": "Решение: медиана {median}, p90 {p90}; в рабочих часах: медиана {bh_median}",
        "sla": "SLA: вовремя {met} из {total} ({share}); нарушений: {breached}; ждут ответа: {pending}",
        "csat": "Оценка: {avg} из 5 (оценок: {n}, откликнулись {rate})",
        "fcr": "Решено с первого обращения: {n} из {total} ({share})",
        "articles": "Чаще всего бот отвечал: {items}",
        "gaps": "Без ответа в базе знаний: {items}",
        "minutes": "Время операторов: {minutes}",
        "client": "Больше всех времени операторов: {client} ({tier}) — {minutes}, {ratio} от среднего по тарифу",
        "breach": "Нарушение SLA: #{id} {group}/{category}, опоздание {late}",
        "days": "{d} д {h} ч",
        "hours": "{h} ч {m:02d} мин",
        "min": "{m} мин",
        "sec": "{s} с",
    },
    "en": {
        "title": "Report: {label} ({start} — {end}, {zone})",
        "no_data": "No data for this period.",
        "volume": "Conversations: {n}; out of business hours: {off} ({off_share})",
        "bot": "Settled by the bot: {bot} ({share}); pending, the client may come back: {pending}; handed to operators: {handed} ({handed_share})",
        "frt": "First response: median {median}, p90 {p90}; business hours: median {bh_median}, p90 {bh_p90}",
        "resolution": "Resolution: median {median}, p90 {p90}; business hours: median {bh_median}",
        "sla": "SLA: on time {met} of {total} ({share}); breaches: {breached}; awaiting answer: {pending}",
        "csat": "Rating: {avg} of 5 (ratings: {n}, response rate {rate})",
        "fcr": "Resolved on first contact: {n} of {total} ({share})",
        "articles": "Top bot answers: {items}",
        "gaps": "Not in the knowledge base: {items}",
        "minutes": "Operator time: {minutes}",
        "client": "Most operator time: {client} ({tier}) — {minutes}, {ratio} of the tier's average",
        "breach": "SLA breach: #{id} {group}/{category}, late by {late}",
        "days": "{d} d {h} h",
        "hours": "{h} h {m:02d} min",
        "min": "{m} min",
        "sec": "{s} s",
    },
}


PERIOD_NAMES = {
    "ru": {"today": "сегодня", "yesterday": "вчера", "week": "7 дней", "month": "30 дней"},
    "en": {"today": "today", "yesterday": "yesterday", "week": "7 days", "month": "30 days"},
}


def period_name(label: str, language: str) -> str:
    """The period's word in the report's language ("today" → «сегодня»); dates as they are."""
    names = PERIOD_NAMES["ru" if language == "ru" else "en"]
    return names.get(label, label.replace("today", names["today"]))


def _texts(language: str) -> dict[str, str]:
    return TEXTS["ru" if language == "ru" else "en"]


def format_duration(value: dt.timedelta | None, language: str) -> str:
    if value is None:
        return "—"
    texts = _texts(language)
    seconds = round(value.total_seconds())
    if seconds < 60:
        return texts["sec"].format(s=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return texts["min"].format(m=minutes)
    hours = minutes // 60
    if hours < 48:
        return texts["hours"].format(h=hours, m=minutes % 60)
    return texts["days"].format(d=hours // 24, h=hours % 24)


def describe_breach(breach: SlaBreach, language: str) -> str:
    return _texts(language)["breach"].format(
        id=breach.conversation_id,
        group=breach.group or "—",
        category=breach.category or "—",
        late=format_duration(breach.late_by, language),
    )


def format_share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _durations(d: Durations, bh: Durations, language: str) -> dict[str, str]:
    return {
        "median": format_duration(d.median, language),
        "p90": format_duration(d.p90, language),
        "bh_median": format_duration(bh.median, language),
        "bh_p90": format_duration(bh.p90, language),
    }


def summarize(contents: ReportContents, language: str) -> str:
    texts = _texts(language)
    period, f = contents.period, contents.total
    last_day = (period.end - dt.timedelta(microseconds=1)).astimezone(period.zone)
    lines = [
        texts["title"].format(
            label=period_name(period.label, language),
            zone=period.zone.key,
            start=period.start.astimezone(period.zone).strftime("%d.%m.%Y"),
            end=last_day.strftime("%d.%m.%Y"),
        )
    ]
    if f.empty:
        return "\n".join([*lines, texts["no_data"]])
    lines.append(
        texts["volume"].format(
            n=f.conversations, off=f.off_hours, off_share=format_share(f.off_hours_share)
        )
    )
    lines.append(
        texts["bot"].format(
            bot=f.bot_resolved,
            pending=f.bot_pending,
            share=format_share(f.bot_resolution_share),
            handed=f.handed_off,
            handed_share=format_share(f.handoff_share),
        )
    )
    lines.append(texts["frt"].format(**_durations(f.frt, f.frt_business, language)))
    lines.append(
        texts["resolution"].format(**_durations(f.resolution, f.resolution_business, language))
    )
    lines.append(
        texts["sla"].format(
            met=f.sla_met,
            total=f.sla_met + f.sla_breached,
            share=format_share(f.sla_compliance),
            breached=f.sla_breached,
            pending=f.sla_pending,
        )
    )
    if f.csat_responses:
        lines.append(
            texts["csat"].format(
                avg=f"{f.csat_average:.1f}",
                n=f.csat_responses,
                rate=format_share(f.csat_response_rate),
            )
        )
    if f.human_closed:
        lines.append(
            texts["fcr"].format(
                n=f.first_contact_resolved, total=f.human_closed, share=format_share(f.fcr_share)
            )
        )
    if f.operator_minutes:
        lines.append(
            texts["minutes"].format(
                minutes=format_duration(dt.timedelta(minutes=f.operator_minutes), language)
            )
        )
    top = contents.consumption[0] if contents.consumption else None
    if top is not None and top.operator_minutes and top.against_tier is not None:
        lines.append(
            texts["client"].format(
                client=top.label,
                tier=top.tier,
                ratio=f"{top.against_tier:.1f}×",
                minutes=format_duration(dt.timedelta(minutes=top.operator_minutes), language),
            )
        )
    if contents.top_articles:
        lines.append(
            texts["articles"].format(
                items=", ".join(
                    f"{a.title or a.article_id} ({a.answers})" for a in contents.top_articles[:3]
                )
            )
        )
    if contents.gaps:
        lines.append(
            texts["gaps"].format(
                items=", ".join(f"«{g.label}» ({g.questions})" for g in contents.gaps[:3])
            )
        )
    return "\n".join(lines)
