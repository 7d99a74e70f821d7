"""The KB's articles offered beside the reply box: for the client's last question, and only
when the KB likely answers it (not for "I want to talk to an operator")."""

from __future__ import annotations

import itertools

from admin.suggestions import suggest
from core.contracts import Action, ChannelKind, InboundMessage
from switchboard.app import Gateway

_ids = itertools.count(1)


def said(text: str, who: str, action: Action | None = None) -> InboundMessage:
    return InboundMessage(
        channel=ChannelKind.TELEGRAM,
        external_user_id=who,
        chat_id=who,
        platform_message_id=f"suggest-{next(_ids)}",
        text=text,
        action=action,
    )


async def test_articles_are_suggested_only_when_the_kb_likely_answers(gateway: Gateway) -> None:
    operator = await gateway.desk.operators.register("Анна", capacity=5)
    await gateway.engine.handle(said("не приходит смс с кодом", "knows"))
    await gateway.engine.handle(said("", "knows", Action.HANDOFF))
    await gateway.engine.handle(said("Хочу поговорить с оператором", "asks-for-a-person"))
    await gateway.engine.handle(said("Почему мой кот боится пылесоса?", "off-topic"))
    await gateway.engine.handle(said("", "off-topic", Action.HANDOFF))

    views = [await gateway.desk.actions.take_next(operator.id) for _ in range(3)]
    # each conversation by its client's first words
    offered = {view.messages[0].text: suggest(gateway.desk.teaching, view) for view in views}

    sms = offered["не приходит смс с кодом"]
    assert sms[0].article_id == "sms-codes"
    article = gateway.knowledge.index.article("sms-codes")
    assert article is not None and sms[0].answer == article.answer_for("short")
    suggested = [gateway.knowledge.index.article(s.article_id) for s in sms]
    assert {a.language for a in suggested if a} == {"ru"}  # not "sms-codes-en", its twin
    assert offered["Хочу поговорить с оператором"] == []
    assert offered["Почему мой кот боится пылесоса?"] == []
