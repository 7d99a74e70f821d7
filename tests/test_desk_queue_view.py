"""The operator's queue view: what each row says, and a cost in SQL statements that does
not grow with the number of rows."""

from __future__ import annotations

from collections import Counter

from pipeline_parts import said
from statement_count import statements
from stepping_clock import SteppingClock

from admin.desk import QueueView
from core.contracts import Action
from switchboard.app import Gateway

QUESTION = "Почему мой кот боится пылесоса?"  # nothing in the KB answers it: queued


async def queue_clients(gateway: Gateway, first: int, last: int) -> None:
    """Clients `first`..`last` ask what the bot cannot answer; every third then presses
    "a person" (its last step is a button, not words)."""
    for n in range(first, last + 1):
        visitor = f"visitor-queue-{n}"
        await gateway.engine.handle(said(QUESTION, visitor=visitor))
        if n % 3 == 0:
            await gateway.engine.handle(said(visitor=visitor, action=Action.HANDOFF))


async def cost(gateway: Gateway, operator_id: int, view: QueueView, rows: int) -> int:
    with statements(gateway) as seen:
        shown = await gateway.desk.queue.rows(operator_id, view)
    assert len(shown) == rows, view
    return len(seen)


async def test_the_queue_view_costs_the_same_for_3_rows_and_for_30(
    gateway: Gateway, clock: SteppingClock
) -> None:
    await queue_clients(gateway, 1, 3)
    groups = sorted({entry.group for entry in await gateway.queue.waiting()})
    operator = await gateway.desk.operators.register("Анна", groups=groups, capacity=30)
    few = await cost(gateway, operator.id, "waiting", 3)

    await queue_clients(gateway, 4, 30)
    assert await cost(gateway, operator.id, "waiting", 30) == few

    clock.advance(days=7)  # every deadline passed: all 30 are breaching
    assert await cost(gateway, operator.id, "breaching", 30) == few

    for _ in range(3):
        await gateway.desk.actions.take_next(operator.id)
    few_held = await cost(gateway, operator.id, "mine", 3)
    for _ in range(27):
        await gateway.desk.actions.take_next(operator.id)
    assert await cost(gateway, operator.id, "mine", 30) == few_held


async def test_each_row_shows_its_place_and_the_clients_last_words(gateway: Gateway) -> None:
    await queue_clients(gateway, 1, 6)
    await gateway.engine.handle(said("Он прячется под диван", visitor="visitor-queue-1"))
    waiting = await gateway.queue.waiting()
    groups = sorted({entry.group for entry in waiting})
    operator = await gateway.desk.operators.register("Анна", groups=groups, capacity=6)

    rows = await gateway.desk.queue.rows(operator.id, "waiting")

    assert [row.conversation_id for row in rows] == [e.conversation_id for e in waiting]
    for row in rows:
        assert row.position == await gateway.queue.position(row.conversation_id)
    by_client = {row.client_name: row for row in rows}
    assert len(by_client) == 6
    assert Counter((row.preview, row.preview_action) for row in rows) == {
        ("Он прячется под диван", None): 1,
        (QUESTION, None): 3,
        (QUESTION, Action.HANDOFF.value): 2,  # the last step a button: the words before it
    }

    taken = await gateway.desk.actions.take_next(operator.id)
    mine = await gateway.desk.queue.rows(operator.id, "mine")
    assert [(row.conversation_id, row.position, row.status) for row in mine] == [
        (taken.id, 1, "assigned")
    ]
