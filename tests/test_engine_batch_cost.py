"""A batch of messages costs the engine the same SQL statements for 3 messages as for 30
on the bot's own paths: a query per message would also make the unit of work flush the
batch's rows one message at a time, and once halved the pipeline's rate (bench/pipeline.py).
The queue's paths (a hand-off, a client writing while queued) still cost statements per
message, and are not here."""

from __future__ import annotations

from pipeline_parts import said
from sqlalchemy import select
from statement_count import statements

from core.models import Direction, Identity, Message
from switchboard.app import Gateway

STEPS = (
    ("a first question", "Я потерял карту, что делать?"),
    ("another question", "Как поменять ПИН-код?"),
    ("the same question again", "как поменять пин-код?"),
    ("a vague opener", "Здравствуйте, у меня вопрос"),
    ("a bare topic word: choices", "карта"),
    ("a choice picked by its number", "1"),
)


async def costs(gateway: Gateway, clients: int) -> dict[str, int | str]:
    """Each step's statements for one batch, a message from each of `clients` clients, and
    what the bot said last to the first of them (so that each step is the path it names)."""
    spent: dict[str, int | str] = {}
    for step, text in STEPS:
        batch = [said(text, visitor=f"{clients}-{n}") for n in range(clients)]
        with statements(gateway) as seen:
            await gateway.engine.handle_many(batch)
        spent[step] = len(seen)
        spent[f"{step}: said"] = await last_words(gateway, f"{clients}-0")
    return spent


async def last_words(gateway: Gateway, visitor: str) -> str:
    async with gateway.sessions() as session:
        last = await session.scalar(
            select(Message)
            .join(Identity, Identity.id == Message.identity_id)
            .where(Identity.external_id == visitor, Message.direction == Direction.OUT)
            .order_by(Message.id.desc())
            .limit(1)
        )
    assert last is not None
    return f"{last.kb_article_id} {last.text[:20]}"


async def test_a_batch_costs_the_same_statements_for_3_messages_and_for_30(
    gateway: Gateway,
) -> None:
    few = await costs(gateway, 3)
    many = await costs(gateway, 30)

    assert many == few
    assert [str(few[f"{step}: said"]).split()[0] for step, _ in STEPS] == [
        "card-lost",
        "card-pin",
        "card-pin",  # «Об этом — мой ответ выше»
        "None",  # «Опишите, пожалуйста, ваш вопрос»
        "None",  # «Уточните, пожалуйста»
        "card-delivery",
    ]
