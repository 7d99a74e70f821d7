"""A note that names a colleague with an @: who is told, over the real console sockets,
and whom an @ finds among the desk's operators."""

from __future__ import annotations

from sqlalchemy import select
from test_console_transfer import handed_off
from web_client import Console, Visitor, signed_in

from core.models import Message
from switchboard.app import Gateway


async def test_a_colleague_named_in_a_note_is_told_and_the_writer_hears_whom(
    gateway: Gateway, served: str
) -> None:
    async with (
        Visitor(served) as visitor,
        Console(served, await signed_in(gateway, "Anna"), lang="ru") as anna,
        Console(served, await signed_in(gateway, "Борис Петров"), lang="ru") as boris,
        Console(served, await signed_in(gateway, "Вера"), lang="ru") as vera,
    ):
        for console in (anna, boris, vera):
            await console.ws.expect(lambda f: f["type"] == "hello")
        conversation_id = await handed_off(gateway, visitor)
        await anna.command("take", "conversation", conversation_id=conversation_id)
        anna_id = (await gateway.desk.operators.find("Anna")).id
        boris_id = (await gateway.desk.operators.find("Борис Петров")).id

        since = vera.ws.mark()
        await anna.command("note", "conversation", conversation_id=conversation_id, text="без имён")
        named = "@борис, глянь выписку; письмо от vera@bank.example"  # an address names no one
        await anna.command("note", "conversation", conversation_id=conversation_id, text=named)
        for console in (anna, boris, vera):  # every console hears it; each knows if it is named
            told = await console.ws.expect(
                lambda f: f["type"] == "notice" and f["notice"]["kind"] == "mentioned",
                since=since if console is vera else 0,
            )
            assert told["notice"] | {"conversation_id": 0} == {
                "kind": "mentioned",
                "conversation_id": 0,
                "operator_ids": [boris_id],
                "names": ["Борис Петров"],
                "from_operator_id": anna_id,
                "from_name": "Anna",
                "note": named,
            }
        mentions = [
            f for f in vera.ws.frames[since:] if f.get("notice", {}).get("kind") == "mentioned"
        ]
        assert len(mentions) == 1  # the note without a name told no one

    async with gateway.sessions() as session:
        notes = list(
            await session.scalars(
                select(Message.text)
                .where(Message.conversation_id == conversation_id, Message.private.is_(True))
                .order_by(Message.id)
            )
        )
    assert notes == ["без имён", named]


async def test_an_at_finds_a_login_a_first_name_or_a_whole_name_never_the_writer(
    gateway: Gateway,
) -> None:
    await gateway.accounts.save("Anna Smirnova", login="asmirnova")
    await gateway.accounts.save("Анна Петрова")
    await gateway.accounts.save("Анна Иванова")
    await gateway.accounts.save("Борис")
    await gateway.accounts.save("Олег")
    await gateway.accounts.disable("олег")
    operators = gateway.desk.operators
    boris = await operators.find("Борис")

    async def named(text: str) -> list[str]:
        return [o.name for o in await operators.mentioned(text, by=boris.id)]

    assert await named("@ASmirnova посмотрите") == ["Anna Smirnova"]
    assert await named("спросите @АннаПетрова.") == ["Анна Петрова"]
    assert await named("@анна, кто из вас?") == ["Анна Иванова", "Анна Петрова"]  # both
    assert await named("@Борис сам себе") == []  # the writer is not told
    assert await named("@олег в отпуске") == []  # disabled
    assert await named("почта boris@bank.example, @ один") == []
