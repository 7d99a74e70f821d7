"""`kb gaps` names a cluster by the words that set it apart, never by stop words."""

from __future__ import annotations

from kb.gaps import find_gaps

QUESTIONS = [
    "не помогло, мой роутер не включается",
    "мой роутер не включается после грозы",
    "роутер не включается, что делать",
    "не помогло, роутер мигает и не включается",
    "не помогло, как вернуть деньги за заказ",
    "как вернуть деньги за заказ, мой заказ не пришёл",
    "вернуть деньги за заказ не помогло",
    "мой заказ отменили, как вернуть деньги",
    "what is on my bill this month",
    "what is the charge on my bill",
    "is this bill on my card",
]


def test_clusters_are_named_by_their_distinctive_words() -> None:
    gaps = find_gaps(QUESTIONS, clusters=3)
    labels = [set(gap.terms) for gap in gaps]
    stop = {"не", "помогло", "мой", "is", "on", "what", "my", "как", "за", "this", "the"}
    assert all(not (label & stop) for label in labels), labels
    assert any("роутер" in label for label in labels)
    assert any({"деньги", "заказ"} & label for label in labels)
    assert any("bill" in label for label in labels)


UNRELATED = [
    "what is the weather in Paris",
    "Почему мой кот боится пылесоса?",
    "какой курс биткоина",
    "где купить гречку подешевле",
    "<b>жирный</b> <script>alert(1)</script>",
]


def test_as_many_groups_as_requests_and_an_unrelated_question_stays_alone() -> None:
    """Without a number of groups asked for, the questions make it: three requests asked
    three or four ways each, and five questions that have nothing in common (before, they
    were folded into the requests' groups and lent them their words)."""
    gaps = find_gaps(QUESTIONS + UNRELATED, examples=10)
    assert {frozenset(gap.examples) for gap in gaps[:3]} == {
        frozenset(QUESTIONS[0:4]),
        frozenset(QUESTIONS[4:8]),
        frozenset(QUESTIONS[8:11]),
    }
    assert sorted((gap.size, gap.examples) for gap in gaps[3:]) == sorted(
        (1, (question.strip(),)) for question in UNRELATED
    )
    assert not {"weather", "script", "кот"} & {term for gap in gaps[:3] for term in gap.terms}
