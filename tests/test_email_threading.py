"""Threading helpers: our Message-IDs, reply chains and the `[#123]` subject tag."""

from __future__ import annotations

import pytest

from channels.email.threading import (
    clean_subject,
    message_id_for,
    outbound_id_of,
    parse_ids,
    reference_headers,
    reply_chain,
    reply_subject,
    subject_tag,
)


def test_message_ids_are_derived_from_the_outbound_id_and_read_back() -> None:
    assert message_id_for(41, "bank.ru") == "<switchboard.41@bank.ru>"
    assert outbound_id_of("<switchboard.41@bank.ru>", "bank.ru") == 41
    assert outbound_id_of("<switchboard.41@other.ru>", "bank.ru") is None


@pytest.mark.parametrize(
    ("subject", "tag"),
    [
        ("Re: Карта [#123]", 123),
        ("[#7] вопрос", 7),
        ("Ответ: без тега", None),
        ("[#abc]", None),
        (None, None),
    ],
)
def test_subject_tag(subject: str | None, tag: int | None) -> None:
    assert subject_tag(subject) == tag


@pytest.mark.parametrize(
    ("subject", "clean"),
    [
        ("Re: Re: Карта", "Карта"),
        ("RE[2]: Карта", "Карта"),
        ("Ответ: Карта", "Карта"),
        ("Пересл.: Fwd: Карта [#5]", "Карта"),
        ("Отв: На: Карта", "Карта"),
        ("AW: Karte", "Karte"),
        ("Регистрация: вопрос", "Регистрация: вопрос"),
    ],
)
def test_reply_prefixes_are_stripped(subject: str, clean: str) -> None:
    assert clean_subject(subject) == clean


def test_reply_subject_has_one_prefix_and_our_tag() -> None:
    assert reply_subject("Re: Ответ: Карта [#5]", 5) == "Re: Карта [#5]"
    assert reply_subject("Карта", 5) == "Карта [#5]"
    assert reply_subject("Карта [#4]", 5) == "Карта [#5]"  # a stale tag is replaced
    assert reply_subject(None, 5) == "[#5]"


def test_reply_chains_in_thread_order() -> None:
    assert parse_ids("<a@x> junk <b@y>") == ["<a@x>", "<b@y>"]
    assert parse_ids("bare@id.example") == ["<bare@id.example>"]
    assert reply_chain("<c@z>", "<a@x> <b@y> <c@z>") == ("<a@x>", "<b@y>", "<c@z>")
    assert reply_chain("<c@z>", None) == ("<c@z>",)
    assert reference_headers(("<a@x>", "<b@y>", "<a@x>")) == ("<a@x>", "<b@y> <a@x>")
    assert reference_headers(()) == (None, None)
