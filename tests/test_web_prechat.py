"""The web chat's pre-chat form (a desk setting, off by default) over the real socket: the
visitor's name becomes the client's name in the console; the email they type is kept as
said, unproved: no email identity, no merge with the client who writes from that address,
only a hint for the operator. Off, the form is not offered and an intro is ignored."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from web_client import Visitor

from admin.client_card import client_card
from core.contracts import ChannelKind, InboundMessage
from core.models import Client, Identity, MergeRecord
from switchboard.app import Gateway

PRECHAT_ON = pytest.mark.parametrize("settings", [{"web_prechat_form": True}], indirect=True)


async def web_client(gateway: Gateway, visitor: Visitor) -> Client:
    async with gateway.sessions() as session:
        client = await session.scalar(
            select(Client)
            .join(Identity, Identity.client_id == Client.id)
            .where(Identity.channel == ChannelKind.WEB, Identity.external_id == visitor.visitor_id)
        )
        assert client is not None
        return client


async def introduce(visitor: Visitor, text: str, **intro: str) -> dict[str, object]:
    message_id = str(uuid.uuid4())
    since = visitor.ws.mark()
    await visitor.ws.send({"type": "message", "id": message_id, "text": text, "intro": intro})
    return await visitor.ws.expect(
        lambda f: f.get("id") == message_id and f["type"] in ("ack", "error"), since=since
    )


@PRECHAT_ON
async def test_the_name_names_the_client_and_the_email_proves_nothing(
    gateway: Gateway, served: str
) -> None:
    await gateway.engine.handle(
        InboundMessage(
            channel=ChannelKind.EMAIL,
            external_user_id="sveta@example.ru",
            chat_id="sveta@example.ru",
            platform_message_id="<prechat-1@example.ru>",
            text="Письмо от настоящей владелицы адреса",
        )
    )
    async with Visitor(served) as visitor:
        history = visitor.ws.frames[0]
        assert history["type"] == "history" and history["prechat"] is True
        bad = await introduce(visitor, "привет", name="Света", email="not-an-address")
        assert bad["type"] == "error" and bad["code"] == "bad_email"
        too_long = await introduce(visitor, "привет", name="Я" * 101)
        assert too_long["type"] == "error" and too_long["code"] == "too_long"
        ok = await introduce(
            visitor,
            "Здравствуйте, позовите оператора",
            name="  Светлана   Ким ",
            email=" Sveta@Example.RU ",
        )
        assert ok["type"] == "ack"
        client = await web_client(gateway, visitor)
    assert (client.display_name, client.email) == ("Светлана Ким", "sveta@example.ru")
    async with gateway.sessions() as session:
        identities = list(
            await session.scalars(select(Identity).where(Identity.client_id == client.id))
        )
        owner = await session.scalar(
            select(Identity).where(
                Identity.channel == ChannelKind.EMAIL, Identity.external_id == "sveta@example.ru"
            )
        )
        merges = await session.scalar(select(func.count(MergeRecord.id)))
    assert [i.channel for i in identities] == [ChannelKind.WEB]
    assert owner is not None and owner.client_id != client.id and merges == 0
    card = await client_card(gateway.sessions, client.id)
    assert card is not None and card.name == "Светлана Ким" and not card.anonymous
    assert card.email == "sveta@example.ru" and card.email_proved is False
    assert [(h.client_id, h.reason) for h in card.hints] == [(owner.client_id, "email")]
    operator = await gateway.desk.operators.register("Anna", groups=gateway.levels.groups)
    shown = {r.client_id: r.client_name for r in await gateway.desk.queue.rows(operator.id)}
    assert shown[client.id] == "Светлана Ким"  # the console's queue names the visitor


async def test_off_by_default_the_form_is_not_offered_and_an_intro_is_ignored(
    gateway: Gateway, served: str
) -> None:
    async with Visitor(served) as visitor:
        assert visitor.ws.frames[0]["prechat"] is False
        ok = await introduce(visitor, "привет", name="Мошенник", email="victim@example.ru")
        assert ok["type"] == "ack"
        client = await web_client(gateway, visitor)
    assert (client.display_name, client.email) == (None, None)
