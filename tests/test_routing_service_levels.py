"""Service levels: categories, VIP, business-hours deadlines, and refusing a bad file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from routing.errors import ServiceLevelsError
from routing.service_levels import DEFAULT_CATEGORIES, BusinessCalendar, ServiceLevels

MSK = ZoneInfo("Europe/Moscow")
EXAMPLE = Path(__file__).parents[1] / "routing" / "service_levels.example.yaml"


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=MSK)


@pytest.fixture
def calendar() -> BusinessCalendar:
    return BusinessCalendar("Europe/Moscow", (dt.time(9), dt.time(18)), range(1, 6))


@pytest.fixture
def levels(calendar: BusinessCalendar) -> ServiceLevels:
    return ServiceLevels.load(None, calendar)


def test_calendar_opening_hours(calendar: BusinessCalendar) -> None:
    assert calendar.is_open(msk(2026, 11, 27, 9, 0))  # Friday morning
    assert not calendar.is_open(msk(2026, 11, 27, 18, 0))  # closing time is closed
    assert not calendar.is_open(msk(2026, 11, 28, 12, 0))  # Saturday
    assert calendar.next_opening(msk(2026, 11, 27, 19, 0)) == msk(2026, 11, 30, 9, 0)
    assert calendar.next_opening(msk(2026, 11, 24, 3, 0)) == msk(2026, 11, 24, 9, 0)
    now = msk(2026, 11, 24, 12, 0)
    assert calendar.next_opening(now) == now


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (msk(2026, 11, 27, 19, 0), 4, msk(2026, 11, 30, 13, 0)),  # Friday evening → Monday
        (msk(2026, 11, 27, 16, 0), 4, msk(2026, 11, 30, 11, 0)),  # 2 h on Friday, 2 h on Monday
        (msk(2026, 11, 24, 23, 0), 4, msk(2026, 11, 25, 13, 0)),  # night excluded
        (msk(2026, 11, 24, 14, 0), 4, msk(2026, 11, 24, 18, 0)),  # ends exactly at closing
        (msk(2026, 11, 28, 10, 0), 24, msk(2026, 12, 2, 15, 0)),  # Saturday + 24 business h
    ],
)
def test_business_time_skips_nights_and_weekends(
    calendar: BusinessCalendar, start: dt.datetime, hours: int, expected: dt.datetime
) -> None:
    assert calendar.add(start, dt.timedelta(hours=hours)) == expected


def test_friday_evening_question_is_due_on_monday(levels: ServiceLevels) -> None:
    level = levels.assess("cards", "standard", msk(2026, 11, 27, 19, 30))
    assert (level.group, level.priority, level.business_hours) == ("support", 2, True)
    assert level.deadline == msk(2026, 11, 30, 13, 0)
    assert level.deadline.tzinfo == dt.UTC


def test_wall_clock_categories_ignore_opening_hours(levels: ServiceLevels) -> None:
    friday_evening = msk(2026, 11, 27, 19, 30)
    lost = levels.assess("lost_card", "standard", friday_evening)
    assert (lost.group, lost.priority, lost.deadline) == ("support", 1, msk(2026, 11, 27, 21, 30))
    fraud = levels.assess("fraud", "standard", friday_evening)
    assert (fraud.group, fraud.deadline) == ("fraud", msk(2026, 11, 27, 20, 0))


def test_vip_halves_the_sla_and_raises_priority(levels: ServiceLevels) -> None:
    tuesday = msk(2026, 11, 24, 10, 0)
    vip = levels.assess("cards", "vip", tuesday)
    assert (vip.priority, vip.deadline) == (1, msk(2026, 11, 24, 12, 0))
    fraud = levels.assess("fraud", "vip", tuesday)
    assert (fraud.priority, fraud.deadline) == (1, msk(2026, 11, 24, 10, 15))  # never above 1


def test_unknown_or_missing_category_falls_back_to_general(levels: ServiceLevels) -> None:
    tuesday = msk(2026, 11, 24, 10, 0)
    general = levels.assess("general", "standard", tuesday)
    assert levels.assess(None, "standard", tuesday) == general
    assert levels.assess("no-such-thing", "standard", tuesday) == general
    assert general.deadline == msk(2026, 11, 24, 18, 0)


def test_example_file_documents_the_defaults(calendar: BusinessCalendar) -> None:
    example = ServiceLevels.load(EXAMPLE, calendar)
    for name, rule in DEFAULT_CATEGORIES.items():
        assert example.categories[name] == rule
    assert example.calendar.holidays, "the example lists public holidays"


def test_file_overrides_defaults_and_adds_holidays(
    tmp_path: Path, calendar: BusinessCalendar
) -> None:
    path = tmp_path / "levels.yaml"
    path.write_text(
        "holidays: [2026-11-30]\n"
        "tiers:\n  vip: {sla_factor: 0.25, priority_boost: 2}\n"
        "categories:\n"
        "  cards: {group: cards, priority: 3, sla: 1h30m}\n"
        "  mortgage: {group: loans, priority: 4, sla: 2d, clock: wall}\n",
        encoding="utf-8",
    )
    levels = ServiceLevels.load(path, calendar)
    friday_evening = msk(2026, 11, 27, 19, 0)
    cards = levels.assess("cards", "standard", friday_evening)
    assert (cards.group, cards.priority, cards.deadline) == ("cards", 3, msk(2026, 12, 1, 10, 30))
    assert levels.assess("mortgage", "vip", friday_evening).deadline == msk(2026, 11, 28, 7, 0)
    assert levels.assess("fraud", "standard", friday_evening).group == "fraud"  # inherited


def test_titles_by_language_and_the_name_where_there_is_none(
    tmp_path: Path, calendar: BusinessCalendar
) -> None:
    path = tmp_path / "levels.yaml"
    path.write_text(
        "categories:\n"
        "  cards: {group: cards, priority: 3, sla: 1h}\n"  # retuned: keeps its titles
        "  вклады: {group: support, priority: 3, sla: 8h, title: Вклады и депозиты}\n"
        "  mortgage: {group: loans, priority: 4, sla: 2d, title: {ru: Ипотека}}\n"
        "  misc: {group: support, priority: 3, sla: 8h}\n",
        encoding="utf-8",
    )
    levels = ServiceLevels.load(path, calendar)
    assert [levels.title("cards", lang) for lang in ("ru", "en")] == ["Карты", "Cards"]
    assert levels.title("вклады", "en") == "Вклады и депозиты"  # one text for every language
    assert levels.title("mortgage", "en") == "Ипотека"  # the one it has
    assert levels.title("misc", "ru") == "misc"
    assert levels.title("retired", "ru") == "retired"  # no longer defined
    assert all(rule.titles.keys() == {"ru", "en"} for rule in DEFAULT_CATEGORIES.values())


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "categories:\n  cards:\n    group: support\n    priority: high\n    sla: 4h\n",
            4,
            "priority",
        ),
        ("categories:\n  cards: {group: support, priority: 2, sla: soon}\n", 2, "duration"),
        (
            "categories:\n  cards:\n    group: support\n    priority: 2\n    sla: 4h\n    clock: lunar\n",
            6,
            "business or wall",
        ),
        (
            "categories:\n  cards:\n    group: support\n    priority: 2\n    sla: 4h\n    slla: 3h\n",
            6,
            "unknown key 'slla'",
        ),
        ("categories:\n  cards:\n    group: support\n", 2, "missing priority, sla"),
        ("categories:\n  cards: {group: 'two words', priority: 2, sla: 4h}\n", 2, "group"),
        (
            "categories:\n  cards: {group: a, priority: 2, sla: 4h}\n"
            "  cards: {group: b, priority: 2, sla: 4h}\n",
            3,
            "twice",
        ),
        ("default_category: nothing\n", 1, "not a defined category"),
        (
            "inherit_defaults: false\ncategories:\n  cards: {group: a, priority: 2, sla: 4h}\n",
            1,
            "default_category is required",
        ),
        ("tiers:\n  gold: {sla_factor: 0.5}\n", 2, "unknown tier"),
        ("tiers:\n  vip: {sla_factor: 2}\n", 2, "sla_factor"),
        ("holidays: [2026-13-01]\n", 1, "month must be in 1..12"),
        ("holidays: [tomorrow]\n", 1, "expected a date"),
        ("categories:\n  cards: [unclosed\n", 3, "not valid YAML"),
        ("colour: blue\n", 1, "unknown key 'colour'"),
        (
            "categories:\n  cards:\n    group: support\n    priority: 2\n    sla: 4h\n"
            "    title: {de: Karten}\n",
            6,
            "unknown key 'de'",
        ),
        ("categories:\n  cards: {group: a, priority: 2, sla: 4h, title: ''}\n", 2, "1-100"),
    ],
)
def test_invalid_file_is_refused_with_its_line(
    tmp_path: Path, calendar: BusinessCalendar, text: str, line: int, words: str
) -> None:
    path = tmp_path / "levels.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ServiceLevelsError) as caught:
        ServiceLevels.load(path, calendar)
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert words in str(caught.value)
    assert caught.value.line == line


def test_missing_file_is_refused(tmp_path: Path, calendar: BusinessCalendar) -> None:
    with pytest.raises(ServiceLevelsError, match="cannot read"):
        ServiceLevels.load(tmp_path / "absent.yaml", calendar)


def test_business_time_across_a_daylight_saving_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    calendar = BusinessCalendar(berlin, (dt.time(9), dt.time(17)), range(1, 6))
    friday = dt.datetime(2027, 3, 26, 15, 0, tzinfo=berlin)  # clocks go forward on Sunday
    due = calendar.add(friday, dt.timedelta(hours=4))
    assert due == dt.datetime(2027, 3, 29, 11, 0, tzinfo=berlin)
    assert due - friday.astimezone(dt.UTC) == dt.timedelta(days=2, hours=19)  # 1 h shorter
