"""The client card and an admin's merge and undo over the console's HTTP routes: what the
card says about each identity's proof, earlier conversations and notes; that only admins
merge and undo (403 for an operator, nothing changed); that an undo puts identities and
conversations back where they came from; and that both are in the audit log."""

from __future__ import annotations

from typing import Any

import aiohttp
from pipeline_parts import said
from sqlalchemy import select
from web_client import signed_in

from admin.signin import SESSION_COOKIE
from core.contracts import ChannelKind
from core.models import (
    AuditEntry,
    Client,
    Conversation,
    ConversationStatus,
    Identity,
    MergeRecord,
    Operator,
    OperatorRole,
)
from switchboard.app import Gateway


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}"}


async def client_of(gateway: Gateway, channel: ChannelKind, external_id: str) -> int:
    async with gateway.sessions() as session:
        identity = await session.scalar(
            select(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
        )
        assert identity is not None
        return identity.client_id


async def operator_id(gateway: Gateway, name: str) -> int:
    async with gateway.sessions() as session:
        found = await session.scalar(select(Operator.id).where(Operator.name == name))
        assert found is not None
        return found


async def owners(gateway: Gateway) -> dict[str, Any]:
    """Who owns each identity and conversation now, and which clients are merged away."""
    async with gateway.sessions() as session:
        return {
            "identities": dict(
                (await session.execute(select(Identity.external_id, Identity.client_id))).all()
            ),
            "conversations": dict(
                (await session.execute(select(Conversation.id, Conversation.client_id))).all()
            ),
            "merged": dict((await session.execute(select(Client.id, Client.merged_into_id))).all()),
        }


async def two_clients(gateway: Gateway) -> tuple[int, int]:
    """Мария in Telegram (one closed conversation, one queued) and a letter from her
    address, unproved: two clients."""
    handle = gateway.engine.handle
    await handle(
        said(
            "Как закрыть вклад?",
            visitor="tg-51",
            channel=ChannelKind.TELEGRAM,
            display_name="Мария",
        )
    )
    await handle(said("позовите оператора", visitor="tg-51", channel=ChannelKind.TELEGRAM))
    await handle(
        said(
            "Прошу вернуть платёж",
            visitor="maria@example.ru",
            channel=ChannelKind.EMAIL,
            display_name="Мария Петрова",
            subject="Возврат",
        )
    )
    await gateway.outbox.drain()
    return (
        await client_of(gateway, ChannelKind.TELEGRAM, "tg-51"),
        await client_of(gateway, ChannelKind.EMAIL, "maria@example.ru"),
    )


async def test_the_card_tells_identities_proofs_conversations_and_notes(
    gateway: Gateway, served: str
) -> None:
    maria, letter = await two_clients(gateway)
    await gateway.engine.handle(
        said("привет", visitor="web-visitor-cookie-51", channel=ChannelKind.WEB)
    )
    visitor = await client_of(gateway, ChannelKind.WEB, "web-visitor-cookie-51")
    anna = await signed_in(gateway, "Anna")
    anna_id = await operator_id(gateway, "Anna")
    [queued] = await gateway.queue.waiting()
    await gateway.desk.actions.take(anna_id, queued.conversation_id)
    await gateway.desk.actions.note(anna_id, queued.conversation_id, "Клиентка просит перезвонить")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served}/operator/clients/{maria}") as anonymous:
            assert anonymous.status == 401
        async with http.get(f"{served}/operator/clients/{maria}", headers=cookie(anna)) as got:
            assert got.status == 200
            card = await got.json()
        async with http.get(f"{served}/operator/clients/{visitor}", headers=cookie(anna)) as got:
            web_card = await got.json()
        async with http.get(f"{served}/operator/clients/999999", headers=cookie(anna)) as missing:
            assert missing.status == 404
            assert (await missing.json())["error"] == "Клиент #999999 не найден."
        async with http.get(
            f"{served}/operator/clients/{letter}?lang=en", headers=cookie(anna)
        ) as got:
            letter_card = await got.json()
    assert card["name"] == "Мария" and card["id"] == maria
    [telegram] = card["identities"]
    assert (telegram["channel"], telegram["shown_id"], telegram["proof"]) == (
        "telegram",
        "tg-51",
        "platform",
    )
    assert telegram["joined"] is None
    statuses = [c["status"] for c in card["conversations"]]
    assert statuses == ["assigned"]  # newest first: the one the operator holds
    assert card["conversations"][0]["preview"] == "Как закрыть вклад?"
    [note] = card["notes"]
    assert (note["text"], note["operator"], note["author"]) == (
        "Клиентка просит перезвонить",
        "Anna",
        "operator",
    )
    [email] = letter_card["identities"]
    assert (email["channel"], email["proof"]) == ("email", "from_header")  # proves nothing
    assert letter_card["conversations"][0]["subject"] == "Возврат"
    [web] = web_card["identities"]
    assert web["proof"] == "cookie" and web["shown_id"] == f"visitor #{web['id']}"
    assert "web-visitor-cookie-51" not in str(web_card)  # the cookie is a bearer secret


async def test_only_an_admin_merges_and_undoes_and_the_undo_restores_everything(
    gateway: Gateway, served: str
) -> None:
    maria, letter = await two_clients(gateway)
    before = await owners(gateway)
    operator = await signed_in(gateway, "Пётр", role=OperatorRole.OPERATOR)
    admin = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    admin_id = await operator_id(gateway, "Ольга")
    merge_url = f"{served}/operator/clients/{maria}/merge"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            merge_url, json={"other": letter}, headers=cookie(operator)
        ) as not_admin:
            assert not_admin.status == 403
        async with http.post(
            merge_url,
            json={"other": letter},
            headers={**cookie(admin), "Origin": "https://evil.example"},
        ) as cross_site:
            assert cross_site.status == 403
        async with http.post(merge_url, json={"other": "abc"}, headers=cookie(admin)) as bad:
            assert bad.status == 400
        async with http.post(merge_url, json={"other": maria}, headers=cookie(admin)) as same:
            assert same.status == 409 and "один и тот же" in (await same.json())["error"]
        assert await owners(gateway) == before

        async with http.post(
            merge_url,
            json={"other": f"#{letter}", "note": "звонила, подтвердила почту"},
            headers=cookie(admin),
        ) as merged:
            assert merged.status == 200
            done = await merged.json()
        assert (done["survivor_id"], done["merged_id"]) == (maria, letter)
        after = await owners(gateway)
        assert after["identities"]["maria@example.ru"] == maria
        assert set(after["conversations"].values()) == {maria}
        assert after["merged"][letter] == maria

        async with http.get(f"{served}/operator/clients/{letter}", headers=cookie(operator)) as got:
            card = await got.json()  # the merged client's card is the survivor's
        assert card["id"] == maria and card["asked_id"] == letter
        email = next(i for i in card["identities"] if i["channel"] == "email")
        assert email["joined"]["reason"] == "operator"
        assert email["joined"]["operator"] == "Ольга"
        assert email["joined"]["proof"] == "звонила, подтвердила почту"
        assert email["proof"] == "from_header"  # a merge by hand proves no address
        [record] = card["merges"]
        assert record["undone_at"] is None

        undo_url = f"{served}/operator/merges/{record['record_id']}/undo"
        async with http.post(undo_url, headers=cookie(operator)) as not_admin:
            assert not_admin.status == 403
        assert (await owners(gateway))["merged"][letter] == maria
        async with http.post(undo_url, headers=cookie(admin)) as undone:
            assert undone.status == 200 and (await undone.json())["undone"] is True
        async with http.post(undo_url, headers=cookie(admin)) as again:
            assert again.status == 409 and "уже отменено" in (await again.json())["error"]

    restored = await owners(gateway)
    assert restored["identities"] == before["identities"]
    assert restored["merged"] == before["merged"]
    assert restored["conversations"] == before["conversations"]
    async with gateway.sessions() as session:
        entry = await session.get(MergeRecord, record["record_id"])
        assert entry is not None and entry.undone_at is not None
        audited = [
            (a.action, a.actor_id, a.detail.get("record"))
            for a in await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.in_(("clients_merged", "merge_undone")))
                .order_by(AuditEntry.id)
            )
        ]
        open_ones = await session.scalars(
            select(Conversation.status).where(Conversation.client_id == maria)
        )
        assert ConversationStatus.QUEUED in set(open_ones)
    assert audited == [
        ("clients_merged", admin_id, record["record_id"]),
        ("merge_undone", admin_id, record["record_id"]),
    ]
