"""A batch of messages costs the engine the same SQL statements for 3 messages as for 30,
on the bot's own paths and on the queue's: a query per message would also make the unit of
work flush the batch's rows one message at a time, and once halved the pipeline's rate
(bench/pipeline.py). A surge is when it counts: an outage, and every client asks for a
person, then how long the wait is."""

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
QUEUE_STEPS = (
    ("a first question", "Я потерял карту, что делать?"),
    ("a request for a person: the queue", "позовите оператора"),
    ("how long is the wait", "сколько ждать?"),
    ("thanks while queued", "спасибо"),
    ("more words for the operators", "а ещё у меня вопрос про кредит"),
    ("how long, asked again at once", "сколько ждать?"),
)


async def costs(
    gateway: Gateway, clients: int, steps: tuple[tuple[str, str], ...] = STEPS
) -> dict[str, int | str]:
    """Each step's statements for one batch, a message from each of `clients` clients, and
    what the bot said in it to the first of them (so that each step is the path it names)."""
    spent: dict[str, int | str] = {}
    for step, text in steps:
        batch = [said(text, visitor=f"{clients}-{n}") for n in range(clients)]
        before = len(await bot_words(gateway, f"{clients}-0"))
        with statements(gateway) as seen:
            await gateway.engine.handle_many(batch)
        spent[step] = len(seen)
        spent[f"{step}: said"] = " | ".join((await bot_words(gateway, f"{clients}-0"))[before:])
    return spent


async def bot_words(gateway: Gateway, visitor: str, chars: int = 20) -> list[str]:
    """What the visitor was sent, oldest first: each message's article and its first words."""
    async with gateway.sessions() as session:
        sent = await session.scalars(
            select(Message)
            .join(Identity, Identity.id == Message.identity_id)
            .where(Identity.external_id == visitor, Message.direction == Direction.OUT)
            .order_by(Message.id)
        )
        return [f"{m.kb_article_id} {m.text[:chars]}" for m in sent]


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


async def test_the_queues_paths_cost_the_same_statements_for_3_messages_and_for_30(
    gateway: Gateway,
) -> None:
    few = await costs(gateway, 3, QUEUE_STEPS)
    many = await costs(gateway, 30, QUEUE_STEPS)

    assert many == few
    said_in_step = [str(few[f"{step}: said"]) for step, _ in QUEUE_STEPS]
    assert said_in_step[0].startswith("card-lost")
    assert said_in_step[1].startswith("None Передаю ваш вопрос")  # with the place
    assert said_in_step[2].startswith("None Ваш вопрос в очереди")  # the place, asked
    assert said_in_step[3:] == ["", "", ""]  # courtesy; the operators see it; told just now
    assert len(await gateway.queue.waiting()) == 33
    last = await bot_words(gateway, "30-29", chars=60)
    assert "Вы 33-й в очереди" in last[1]
    assert "вы 33-й" in last[2]
