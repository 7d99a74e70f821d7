"""Service levels: which group a category goes to, how urgent it is, and by when it must
be answered, on the wall clock or in business hours only.

The configuration is one YAML file (`routing/service_levels.example.yaml` documents it);
without one the built-in defaults below apply. A bad file is refused at start-up with
`file:line: what is wrong`, taken from the YAML node marks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from routing.errors import ServiceLevelsError
from routing.queue import validate_group

__all__ = [
    "BusinessCalendar",
    "CategoryRule",
    "ServiceLevel",
    "ServiceLevels",
    "TierRule",
    "parse_duration",
]


@dataclass(frozen=True)
class ServiceLevel:
    group: str
    priority: int  # 1 = most urgent
    deadline: dt.datetime
    business_hours: bool


@dataclass(frozen=True)
class CategoryRule:
    group: str
    priority: int
    sla: dt.timedelta
    business_hours: bool
    titles: Mapping[str, str] = field(default_factory=dict, hash=False)
    """What operators read for the category, by language ("ru", "en"); the name when none."""


@dataclass(frozen=True)
class TierRule:
    """How a client tier tightens the rule of the category."""

    sla_factor: float = 1.0
    priority_boost: int = 0


def _hours(n: float) -> dt.timedelta:
    return dt.timedelta(hours=n)


def _titled(ru: str, en: str) -> dict[str, str]:
    return {"ru": ru, "en": en}


DEFAULT_CATEGORIES: dict[str, CategoryRule] = {
    "fraud": CategoryRule(
        "fraud", 1, dt.timedelta(minutes=30), False, _titled("Мошенничество", "Fraud")
    ),
    "lost_card": CategoryRule(
        "support", 1, _hours(2), False, _titled("Потеря карты", "Lost or stolen card")
    ),
    "cards": CategoryRule("support", 2, _hours(4), True, _titled("Карты", "Cards")),
    "payments": CategoryRule("support", 2, _hours(4), True, _titled("Платежи", "Payments")),
    "transfers": CategoryRule("support", 2, _hours(4), True, _titled("Переводы", "Transfers")),
    "app": CategoryRule("support", 2, _hours(4), True, _titled("Приложение", "App")),
    "account": CategoryRule("support", 3, _hours(8), True, _titled("Счёт", "Account")),
    "fees": CategoryRule("support", 3, _hours(8), True, _titled("Комиссии", "Fees")),
    "loans": CategoryRule("loans", 3, _hours(24), True, _titled("Кредиты", "Loans")),
    "general": CategoryRule("support", 3, _hours(8), True, _titled("Общие вопросы", "General")),
}
DEFAULT_TIERS: dict[str, TierRule] = {"standard": TierRule(), "vip": TierRule(0.5, 1)}
DEFAULT_CATEGORY = "general"


class BusinessCalendar:
    """Opening hours in a time zone, on working days, minus holidays. Times go in and come
    out as aware datetimes; results are UTC."""

    def __init__(
        self,
        zone: ZoneInfo | str,
        opening: tuple[dt.time, dt.time],
        working_days: Iterable[int],
        holidays: Iterable[dt.date] = (),
    ) -> None:
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else zone
        self.opening = opening
        self.working_days = frozenset(working_days)
        self.holidays = frozenset(holidays)
        if opening[0] >= opening[1]:
            raise ValueError(f"opening time {opening[0]} must be before closing time {opening[1]}")
        if not self.working_days or not self.working_days <= set(range(1, 8)):
            raise ValueError("working days are ISO weekdays 1 (Monday) to 7 (Sunday)")

    def with_holidays(self, holidays: Iterable[dt.date]) -> BusinessCalendar:
        return BusinessCalendar(
            self.zone, self.opening, self.working_days, self.holidays | frozenset(holidays)
        )

    def is_working_day(self, day: dt.date) -> bool:
        return day.isoweekday() in self.working_days and day not in self.holidays

    def hours_of(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """Opening and closing of a (local) day, in UTC."""
        start, end = (
            dt.datetime.combine(day, t, tzinfo=self.zone).astimezone(dt.UTC) for t in self.opening
        )
        return start, end

    def is_open(self, now: dt.datetime) -> bool:
        day = now.astimezone(self.zone).date()
        if not self.is_working_day(day):
            return False
        start, end = self.hours_of(day)
        return start <= now < end

    def next_opening(self, now: dt.datetime) -> dt.datetime:
        """`now` when open, else when operators are back."""
        now = now.astimezone(dt.UTC)
        if self.is_open(now):
            return now
        today = now.astimezone(self.zone).date()
        for offset in range(0, 800):
            day = today + dt.timedelta(days=offset)
            if self.is_working_day(day):
                start, _ = self.hours_of(day)
                if now < start:
                    return start
        raise ValueError("the calendar has no working day in the next two years")

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """`duration` of business time after `start`: nights, weekends and holidays skipped."""
        moment, remaining = start.astimezone(dt.UTC), duration
        while True:
            moment = self.next_opening(moment)
            _, closing = self.hours_of(moment.astimezone(self.zone).date())
            available = closing - moment
            if remaining <= available:
                return moment + remaining
            remaining -= available
            moment = closing

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time from `start` to `end` (zero unless `end` is later): the inverse of
        `add`, for first-response and resolution times in business hours."""
        total = dt.timedelta(0)
        day, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= last and end > start:
            if self.is_working_day(day):
                opening, closing = self.hours_of(day)
                total += max(dt.timedelta(0), min(closing, end) - max(opening, start))
            day += dt.timedelta(days=1)
        return total


@dataclass(frozen=True)
class ServiceLevels:
    categories: Mapping[str, CategoryRule]
    calendar: BusinessCalendar
    tiers: Mapping[str, TierRule] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    default_category: str = DEFAULT_CATEGORY

    @classmethod
    def load(cls, path: Path | None, calendar: BusinessCalendar) -> ServiceLevels:
        """The levels of the file at `path` over the built-in defaults; None → defaults."""
        if path is None:
            return cls(dict(DEFAULT_CATEGORIES), calendar)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ServiceLevelsError(Path(path), None, f"cannot read: {exc.strerror}") from None
        return _ConfigReader(Path(path), calendar).read(text)

    def rule(self, category: str | None) -> CategoryRule:
        return self.categories.get(category or "", self.categories[self.default_category])

    def title(self, category: str, language: str) -> str:
        """The category as operators read it: its title in `language`, else in another
        language, else its name (a category the levels no longer define, too)."""
        rule = self.categories.get(category)
        titles = rule.titles if rule is not None else {}
        return titles.get(language) or next(iter(titles.values()), category)

    @property
    def groups(self) -> tuple[str, ...]:
        """Every operator group some category routes to."""
        return tuple(sorted({rule.group for rule in self.categories.values()}))

    def assess(self, category: str | None, tier: str, now: dt.datetime) -> ServiceLevel:
        """Group, priority and deadline for a conversation handed off `now`."""
        rule = self.rule(category)
        tightening = self.tiers.get(str(getattr(tier, "value", tier)), TierRule())
        sla = rule.sla * tightening.sla_factor
        priority = max(1, rule.priority - tightening.priority_boost)
        deadline = (
            self.calendar.add(now, sla) if rule.business_hours else now.astimezone(dt.UTC) + sla
        )
        return ServiceLevel(rule.group, priority, deadline, rule.business_hours)


_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")


def parse_duration(text: str) -> dt.timedelta:
    """ "30m", "4h", "1h30m", "2d" (a day is 24 hours of the chosen clock)."""
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"expected a duration like 30m, 4h, 1h30m or 2d, got {text!r}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


class _ConfigReader:
    """Walks the composed YAML nodes so that every complaint carries its line."""

    TOP = {"categories", "default_category", "tiers", "holidays", "inherit_defaults"}
    CATEGORY = {"group", "priority", "sla", "clock", "title"}
    TITLE_LANGUAGES = {"ru", "en"}
    TIER = {"sla_factor", "priority_boost"}

    def __init__(self, path: Path, calendar: BusinessCalendar) -> None:
        self.path = path
        self.calendar = calendar
        self.constructor = yaml.SafeLoader("")

    def fail(self, node: yaml.Node | None, message: str) -> ServiceLevelsError:
        return ServiceLevelsError(self.path, node.start_mark.line + 1 if node else None, message)

    def value(self, node: yaml.Node) -> Any:
        try:
            return self.constructor.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError) as exc:
            raise self.fail(node, f"cannot read {node.value!r}: {exc}") from None

    def mapping(
        self, node: yaml.Node, where: str, allowed: set[str]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{where}: expected a mapping")
        items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = str(self.value(key_node))
            if key in items:
                raise self.fail(key_node, f"{where}: {key!r} is given twice")
            if allowed and key not in allowed:
                raise self.fail(
                    key_node,
                    f"{where}: unknown key {key!r}; expected one of {', '.join(sorted(allowed))}",
                )
            items[key] = (key_node, value_node)
        return items

    def read(self, text: str) -> ServiceLevels:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise ServiceLevelsError(
                self.path, mark.line + 1 if mark else None, f"not valid YAML: {exc.problem or exc}"
            ) from None
        except yaml.YAMLError as exc:
            raise ServiceLevelsError(self.path, None, f"not valid YAML: {exc}") from None
        if root is None:
            return ServiceLevels(dict(DEFAULT_CATEGORIES), self.calendar)
        top = self.mapping(root, "file", self.TOP)
        inherit = True
        if "inherit_defaults" in top:
            inherit = self.value(top["inherit_defaults"][1])
            if not isinstance(inherit, bool):
                raise self.fail(
                    top["inherit_defaults"][1], "inherit_defaults: expected true or false"
                )
        categories = dict(DEFAULT_CATEGORIES) if inherit else {}
        if "categories" in top:
            listed = self.mapping(top["categories"][1], "categories", set())
            for name, (key_node, node) in listed.items():
                rule = self.category(name, key_node, node)
                if not rule.titles and name in categories:  # a built-in one, retuned
                    rule = replace(rule, titles=categories[name].titles)
                categories[name] = rule
        tiers = dict(DEFAULT_TIERS)
        if "tiers" in top:
            for name, (key_node, node) in self.mapping(top["tiers"][1], "tiers", set()).items():
                if name not in DEFAULT_TIERS:
                    raise self.fail(
                        key_node,
                        f"tiers: unknown tier {name!r}; expected {' or '.join(DEFAULT_TIERS)}",
                    )
                tiers[name] = self.tier(name, node)
        default = DEFAULT_CATEGORY
        if "default_category" in top:
            node = top["default_category"][1]
            default = str(self.value(node))
            if default not in categories:
                raise self.fail(node, f"default_category: {default!r} is not a defined category")
        elif default not in categories:
            raise self.fail(
                root, f"default_category is required: {DEFAULT_CATEGORY!r} is not defined"
            )
        calendar = self.calendar
        if "holidays" in top:
            calendar = calendar.with_holidays(self.holidays(top["holidays"][1]))
        return ServiceLevels(categories, calendar, tiers, default)

    def category(self, name: str, key_node: yaml.Node, node: yaml.Node) -> CategoryRule:
        where = f"categories.{name}"
        fields = self.mapping(node, where, self.CATEGORY)
        missing = {"group", "priority", "sla"} - fields.keys()
        if missing:
            raise self.fail(key_node, f"{where}: missing {', '.join(sorted(missing))}")
        group_node, priority_node, sla_node = (fields[k][1] for k in ("group", "priority", "sla"))
        try:
            group = validate_group(str(self.value(group_node)))
        except ValueError as exc:
            raise self.fail(group_node, f"{where}.group: {exc}") from None
        priority = self.value(priority_node)
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 9:
            raise self.fail(
                priority_node,
                f"{where}.priority: expected a whole number 1-9 "
                f"(1 = most urgent), got {priority!r}",
            )
        try:
            sla = parse_duration(str(self.value(sla_node)))
        except ValueError as exc:
            raise self.fail(sla_node, f"{where}.sla: {exc}") from None
        if sla <= dt.timedelta(0):
            raise self.fail(sla_node, f"{where}.sla: must be longer than zero")
        clock = "business"
        if "clock" in fields:
            clock = str(self.value(fields["clock"][1]))
            if clock not in ("business", "wall"):
                raise self.fail(
                    fields["clock"][1], f"{where}.clock: expected business or wall, got {clock!r}"
                )
        titles = self.titles(where, fields["title"][1]) if "title" in fields else {}
        return CategoryRule(group, priority, sla, clock == "business", titles)

    def titles(self, where: str, node: yaml.Node) -> dict[str, str]:
        """`title: Потеря карты` (every language) or `title: {ru: …, en: …}`."""
        if isinstance(node, yaml.MappingNode):
            items = self.mapping(node, f"{where}.title", self.TITLE_LANGUAGES)
            return {lang: self.text(f"{where}.title.{lang}", n) for lang, (_, n) in items.items()}
        return dict.fromkeys(sorted(self.TITLE_LANGUAGES), self.text(f"{where}.title", node))

    def text(self, where: str, node: yaml.Node) -> str:
        title = self.value(node)
        if not isinstance(title, str) or not title.strip() or len(title) > 100:
            raise self.fail(node, f"{where}: expected a text of 1-100 characters, got {title!r}")
        return title.strip()

    def tier(self, name: str, node: yaml.Node) -> TierRule:
        where = f"tiers.{name}"
        fields = self.mapping(node, where, self.TIER)
        rule = TierRule()
        if "sla_factor" in fields:
            factor_node = fields["sla_factor"][1]
            factor = self.value(factor_node)
            if (
                isinstance(factor, bool)
                or not isinstance(factor, (int, float))
                or not 0 < factor <= 1
            ):
                raise self.fail(
                    factor_node, f"{where}.sla_factor: expected a number in (0, 1], got {factor!r}"
                )
            rule = replace(rule, sla_factor=float(factor))
        if "priority_boost" in fields:
            boost_node = fields["priority_boost"][1]
            boost = self.value(boost_node)
            if isinstance(boost, bool) or not isinstance(boost, int) or not 0 <= boost <= 8:
                raise self.fail(
                    boost_node,
                    f"{where}.priority_boost: expected a whole number 0-8, got {boost!r}",
                )
            rule = replace(rule, priority_boost=boost)
        return rule

    def holidays(self, node: yaml.Node) -> list[dt.date]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "holidays: expected a list of dates (YYYY-MM-DD)")
        days = []
        for item in node.value:
            day = self.value(item)
            if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                raise self.fail(item, f"holidays: expected a date YYYY-MM-DD, got {day!r}")
            days.append(day)
        return days
