"""Calibration from the KB's own held-out variants: it must produce thresholds that answer
what the KB knows and hand off what it does not, even for a tiny KB, and survive storage."""

from __future__ import annotations

import json

from kb.articles import Article
from kb.calibration import Calibration
from kb.holdout import DEFAULT_OOS_RECALL, calibrate, calibrate_labelled
from kb.index import Decision, KnowledgeIndex

TINY = [
    Article(
        "card-lost",
        "",
        "a",
        (
            "Я потерял карту",
            "Карту украли",
            "Потерялась карточка",
            "Как заблокировать потерянную карту",
        ),
    ),
    Article(
        "transfer-fee",
        "",
        "b",
        (
            "Какая комиссия за перевод",
            "Сколько стоит перевод",
            "Комиссия при переводе на другую карту",
            "Платно ли переводить деньги",
        ),
    ),
    Article(
        "deposit-rate",
        "",
        "c",
        (
            "Какая ставка по вкладу",
            "Под какой процент вклад",
            "Проценты по депозиту",
            "Доходность вклада",
        ),
    ),
    Article(
        "branch-hours",
        "",
        "d",
        (
            "Часы работы отделения",
            "Когда открыт офис банка",
            "До скольки работает отделение",
            "График работы офиса",
        ),
    ),
]


def test_a_tiny_kb_is_calibrated_from_its_own_variants() -> None:
    calibration = calibrate(TINY)
    assert calibration.source == "kb"
    assert calibration.queries >= 8
    assert calibration.curve, "the trade-off it chose from is kept for the report"
    assert calibration.chosen_point is not None
    index = KnowledgeIndex.build(TINY, calibration)
    assert index.decide("я потерял свою карту").hits[0].article.id == "card-lost"
    assert index.decide("я потерял свою карту").decision is Decision.ANSWER
    assert index.decide("какая комиссия за перевод денег").decision is Decision.ANSWER
    assert index.decide("посоветуйте хороший фильм").decision is Decision.HANDOFF


def test_calibration_is_deterministic() -> None:
    assert calibrate(TINY) == calibrate(TINY)


def test_too_little_to_measure_keeps_the_default() -> None:
    single_variants = [
        Article("a", "", "x", ("Я потерял карту",)),
        Article("b", "", "y", ("Какая ставка по вкладу",)),
    ]
    calibration = calibrate(single_variants)
    assert calibration.curve == () and calibration.chosen_point is None
    assert calibration.source.startswith("default")
    assert calibrate([]) == Calibration.default()


def test_by_default_the_floor_holds_on_the_simulated_unknowns() -> None:
    chosen = calibrate(TINY).chosen_point
    assert chosen is not None and DEFAULT_OOS_RECALL is not None
    assert chosen.out_of_scope_recall >= DEFAULT_OOS_RECALL


def test_a_higher_out_of_scope_floor_hands_off_more() -> None:
    lenient = calibrate(TINY, min_oos_recall=0.0)
    strict = calibrate(TINY, min_oos_recall=0.95)
    assert strict.answer_threshold >= lenient.answer_threshold
    assert strict.chosen_point is not None
    assert strict.chosen_point.out_of_scope_recall >= 0.95


def test_calibration_from_labelled_questions() -> None:
    index = KnowledgeIndex.build(TINY)
    questions = [
        "потерял карту",
        "сколько стоит перевод",
        "ставка по вкладу",
        "часы работы отделения",
        "кто выиграл матч",
        "рецепт борща",
        "как дела у кота",
        "карточку украли",
        "комиссия за перевод",
        "купить билет в кино",
    ]
    labels = [
        "card-lost",
        "transfer-fee",
        "deposit-rate",
        "branch-hours",
        None,
        None,
        None,
        "card-lost",
        "transfer-fee",
        None,
    ]
    calibration = calibrate_labelled(index, questions, labels)
    assert calibration.source == "labelled"
    decided = index.with_calibration(calibration)
    assert decided.decide("потерял карту").decision is Decision.ANSWER
    assert decided.decide("рецепт борща").decision is Decision.HANDOFF


def test_calibration_survives_json() -> None:
    calibration = calibrate(TINY)
    restored = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert restored == calibration


def test_a_constant_feature_gets_a_bounded_weight() -> None:
    """In a tiny KB some features do not vary (every article has as many variants as the
    neighbours counted); rounding noise in them must not turn into a huge weight."""
    calibration = calibrate(TINY)
    assert max(abs(w) for w in calibration.answer_weights) < 1e3
    assert abs(calibration.answer_bias) < 1e3


DESK = [  # a small desk's KB: five articles, three to five variants each, in Russian
    Article(
        "card-block",
        "",
        "a",
        (
            "Как заблокировать карту",
            "Карту украли, что делать",
            "Потерял карточку",
            "Срочно заблокируйте мою карту",
        ),
    ),
    Article(
        "sms-code",
        "",
        "b",
        ("Не приходит смс с кодом", "Код подтверждения не пришёл", "Нет sms для входа"),
    ),
    Article(
        "cash-limit",
        "",
        "c",
        (
            "Какой лимит на снятие наличных",
            "Сколько можно снять в банкомате за день",
            "Лимит снятия денег с карты",
            "Ограничение на выдачу наличных",
            "Максимум снятия в сутки",
        ),
    ),
    Article(
        "statement",
        "",
        "d",
        (
            "Как получить выписку по счёту",
            "Нужна справка о движении средств",
            "Выписка за прошлый месяц",
        ),
    ),
    Article(
        "close-account",
        "",
        "e",
        (
            "Как закрыть счёт",
            "Хочу закрыть карту и счёт",
            "Закрытие счёта в банке",
            "Расторгнуть договор",
        ),
    ),
]


def test_a_small_desk_kb_gets_a_point_it_can_live_with() -> None:
    calibration = calibrate(DESK)
    chosen = calibration.chosen_point
    assert calibration.source == "kb" and chosen is not None
    assert calibration.queries >= 200  # re-split until there is something to measure
    assert chosen.answer_precision >= 0.8
    assert chosen.out_of_scope_recall >= 0.55
    assert 0.0 < chosen.handoff_share < 1.0
    index = KnowledgeIndex.build(DESK, calibration)
    assert index.decide("у меня украли карту").hits[0].article.id == "card-block"
    assert index.decide("как у вас с ипотекой на дом").decision is Decision.HANDOFF


def test_a_kb_too_small_to_measure_says_so() -> None:
    two = [
        Article("a", "", "x", ("Я потерял карту", "Карту украли")),
        Article("b", "", "y", ("Какая ставка по вкладу", "Процент по вкладу")),
    ]
    calibration = calibrate(two)
    assert calibration.chosen_point is None
    assert "too small to measure: 2 articles, 4 variants" in calibration.source
