"""Parsing real-world letters: encodings, HTML-only mail, quoted replies, attachments,
malformed, huge and empty mail."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from channels.attachment_store import AttachmentStore
from channels.email.parse import MailParser, synthetic_id
from core.contracts import AttachmentKind, ChannelKind

SUPPORT = "support@bank.test"


@pytest.fixture
def parser(tmp_path: Path) -> MailParser:
    return MailParser(SUPPORT, AttachmentStore(tmp_path / "files", max_bytes=1000))


def raw_letter(headers: dict[str, str], body: bytes, content_type: str) -> bytes:
    lines = [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Type: {content_type}", "MIME-Version: 1.0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body  # raw UTF-8 headers happen


BASE = {
    "From": "Ivan <Ivan.Petrov+bank@Mail.RU>",
    "To": SUPPORT,
    "Message-ID": "<q1@mail.ru>",
    "Date": "Mon, 23 Nov 2026 10:00:00 +0300",
}


def test_plain_letter_maps_to_the_contract(parser: MailParser) -> None:
    letter = EmailMessage()
    letter["From"] = "Иван Петров <Ivan.Petrov+bank@Mail.RU>"
    letter["To"] = SUPPORT
    letter["Subject"] = "Не приходит SMS с кодом"
    letter["Message-ID"] = "<q1@mail.ru>"
    letter["Date"] = "Mon, 23 Nov 2026 10:00:00 +0300"
    letter.set_content("Здравствуйте! Не приходит SMS с кодом подтверждения.\n")
    message = parser.parse(letter.as_bytes(policy=SMTP))
    assert message.channel is ChannelKind.EMAIL
    assert message.external_user_id == "ivan.petrov+bank@mail.ru"
    assert message.chat_id == "ivan.petrov+bank@mail.ru"
    assert message.display_name == "Иван Петров"
    assert message.platform_message_id == "<q1@mail.ru>"
    assert message.subject == "Не приходит SMS с кодом"
    assert message.text == "Здравствуйте! Не приходит SMS с кодом подтверждения."
    assert message.sent_at is not None
    assert message.sent_at.isoformat() == "2026-11-23T07:00:00+00:00"
    assert (message.automated, message.bounce, message.reply_to, message.thread_hint) == (
        False,
        False,
        (),
        None,
    )


@pytest.mark.parametrize("charset", ["koi8-r", "windows-1251"])
def test_html_only_russian_letter_becomes_readable_text(parser: MailParser, charset: str) -> None:
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Добрый день!</p><p>Списали <b>комиссию</b> за перевод&nbsp;#&nbsp;5.</p>"
        "<ul><li>сумма 100 ₽</li></ul></body></html>"
    )
    body = html.replace("₽", "руб.").encode(charset)
    subject = "=?" + charset + "?B?" + base64.b64encode("Комиссия".encode(charset)).decode() + "?="
    raw = raw_letter({**BASE, "Subject": subject}, body, f"text/html; charset={charset}")
    message = parser.parse(raw)
    assert message.subject == "Комиссия"
    assert "Добрый день!" in message.text
    assert "Списали комиссию за перевод" in message.text
    assert "сумма 100 руб." in message.text
    assert "<" not in message.text and "color" not in message.text


def test_encoded_word_headers_and_8bit_body_without_charset(parser: MailParser) -> None:
    raw = raw_letter(
        {
            **BASE,
            "From": "=?windows-1251?B?"
            + base64.b64encode("Пётр".encode("cp1251")).decode()
            + "?= <petr@yandex.ru>",
            "Subject": "=?utf-8?Q?=D0=9A=D0=B0=D1=80=D1=82=D0=B0?= =?koi8-r?B?INPMz83BzsE=?=",
            "Content-Transfer-Encoding": "8bit",
        },
        "Моя карта не работает в банкомате, помогите пожалуйста разобраться".encode("cp1251"),
        "text/plain",
    )
    message = parser.parse(raw)
    assert message.display_name == "Пётр"
    assert message.subject == "Карта сломана"
    assert message.text == "Моя карта не работает в банкомате, помогите пожалуйста разобраться"


def test_quoted_printable_and_base64_bodies(parser: MailParser) -> None:
    text = "Когда придёт карта?"
    qp = raw_letter(
        {**BASE, "Content-Transfer-Encoding": "quoted-printable"},
        b"=D0=9A=D0=BE=D0=B3=D0=B4=D0=B0 =D0=BF=D1=80=D0=B8=D0=B4=D1=91=D1=82 "
        b"=D0=BA=D0=B0=D1=80=D1=82=D0=B0?",
        "text/plain; charset=utf-8",
    )
    b64 = raw_letter(
        {**BASE, "Content-Transfer-Encoding": "base64"},
        base64.encodebytes(text.encode("koi8-r")),
        "text/plain; charset=koi8-r",
    )
    assert parser.parse(qp).text == text
    assert parser.parse(b64).text == text


GMAIL_REPLY = """\
Спасибо, а какой дневной лимит на снятие?

пн, 23 нояб. 2026 г. в 10:00, Служба поддержки <support@bank.test>:

> Здравствуйте, Иван!
> Лимит можно изменить в приложении.
>
> --
> Банк
"""
YANDEX_REPLY = """\
Приложение всё равно не открывается.

--
Иван Петров
+7 900 000-00-00

23.11.2026, 10:00, "Служба поддержки" <support@bank.test>:
> Здравствуйте! Переустановите приложение.
"""
OUTLOOK_REPLY = """\
Хорошо, жду звонка.

С уважением,
Иван Петров

________________________________
От: Служба поддержки <support@bank.test>
Отправлено: 23 ноября 2026 г. 10:00
Кому: Иван Петров <ivan@corp.ru>
Тема: Re: Перевод [#42]

Здравствуйте! Мы проверим перевод.
"""
MAILRU_REPLY = """\
Карта так и не пришла.


Понедельник, 23 ноября 2026, 10:00 +03:00 от Служба поддержки <support@bank.test>:
>Здравствуйте! Карта будет доставлена в течение 5 дней.
"""


@pytest.mark.parametrize(
    ("body", "fresh", "quoted"),
    [
        (GMAIL_REPLY, "Спасибо, а какой дневной лимит на снятие?", "Лимит можно изменить"),
        (YANDEX_REPLY, "Приложение всё равно не открывается.", "Переустановите"),
        (OUTLOOK_REPLY, "Хорошо, жду звонка.", "Мы проверим перевод"),
        (MAILRU_REPLY, "Карта так и не пришла.", "будет доставлена"),
    ],
    ids=["gmail", "yandex", "outlook", "mailru"],
)
def test_reply_is_stripped_of_history_and_signature(
    parser: MailParser, body: str, fresh: str, quoted: str
) -> None:
    raw = raw_letter(
        {
            **BASE,
            "Subject": "Re: Вопрос [#42]",
            "In-Reply-To": "<switchboard.7@bank.test>",
            "References": "<q0@mail.ru> <switchboard.7@bank.test>",
        },
        body.encode(),
        "text/plain; charset=utf-8",
    )
    message = parser.parse(raw)
    assert message.text == fresh
    assert message.original_text is not None and quoted in message.original_text
    assert message.reply_to == ("<q0@mail.ru>", "<switchboard.7@bank.test>")
    assert message.thread_hint == 42


def test_html_reply_is_stripped_before_conversion(parser: MailParser) -> None:
    html = """<html><body><div dir="ltr">Да, это был я.<br></div><br>
    <div class="gmail_quote"><div dir="ltr" class="gmail_attr">пн, 23 нояб. 2026 г. в 10:00,
    Служба поддержки &lt;support@bank.test&gt;:<br></div>
    <blockquote class="gmail_quote">Вы совершали перевод 5000 ₽?</blockquote></div></body></html>"""
    outlook = """<html><body><p>Нет, не я.</p><div id="appendonsend"></div><hr>
    <div id="divRplyFwdMsg"><b>От:</b> Служба поддержки<br><b>Отправлено:</b> 23 ноября</div>
    <div>Вы совершали перевод 5000 ₽?</div></body></html>"""
    for markup, fresh in ((html, "Да, это был я."), (outlook, "Нет, не я.")):
        message = parser.parse(raw_letter(BASE, markup.encode(), "text/html; charset=utf-8"))
        assert message.text == fresh
        assert message.original_text is not None and "5000 ₽" in message.original_text


def test_plain_part_is_preferred_over_html(parser: MailParser) -> None:
    letter = EmailMessage()
    for name, value in BASE.items():
        letter[name] = value
    letter.set_content("Текстовая версия")
    letter.add_alternative("<p>HTML версия</p>", subtype="html")
    assert parser.parse(letter.as_bytes()).text == "Текстовая версия"


def test_attachments_are_kept_within_the_size_limit(parser: MailParser, tmp_path: Path) -> None:
    letter = EmailMessage()
    for name, value in BASE.items():
        letter[name] = value
    letter.set_content("Скан паспорта во вложении")
    letter.add_attachment(
        b"%PDF-1.4 small", maintype="application", subtype="pdf", filename="паспорт скан.pdf"
    )
    letter.add_attachment(
        b"\x89PNG" + b"0" * 5000, maintype="image", subtype="png", filename="../../etc/big.png"
    )
    message = parser.parse(letter.as_bytes())
    assert message.text == "Скан паспорта во вложении"
    small, big = message.attachments
    assert (small.kind, small.name, small.size, small.mime) == (
        AttachmentKind.DOCUMENT,
        "паспорт скан.pdf",
        14,
        "application/pdf",
    )
    assert small.stored_path is not None and small.content == b"%PDF-1.4 small"
    stored = Path(small.stored_path)
    assert stored.is_relative_to(tmp_path / "files")
    assert not stored.exists()  # the engine writes it once the letter is known to be new
    assert (big.kind, big.name, big.size, big.stored_path) == (
        AttachmentKind.PHOTO,
        "big.png",
        5004,
        None,
    )  # over the limit: metadata only
    assert big.content is None
    again = parser.parse(letter.as_bytes())  # the same bytes, the same place
    assert again.attachments[0].stored_path == small.stored_path


def test_reply_to_is_reported_never_taken_as_the_address(parser: MailParser) -> None:
    message = parser.parse(
        raw_letter({**BASE, "Reply-To": "Иван <Ivan@Home.test>"}, b"hi", "text/plain")
    )
    assert message.external_user_id == "ivan.petrov+bank@mail.ru"
    assert message.chat_id == "ivan.petrov+bank@mail.ru"
    assert message.meta["reply_to"] == "ivan@home.test"


def test_question_in_the_subject_only(parser: MailParser) -> None:
    message = parser.parse(
        raw_letter(
            {**BASE, "Subject": "Как заблокировать карту?"}, b"", "text/plain; charset=utf-8"
        )
    )
    assert message.text == "Как заблокировать карту?"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"From: <<<@@@>>>\r\nSubject: =?utf-8?B?broken?=\r\nContent-Type: multipart/mixed\r\n"
        b"\r\nno boundary",
        b"From: a@b.c\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n"
        b"\r\n\xcf\xf0\xe8\xe2\xe5\xf2",
        b"From: a@b.c\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
        b"From: a@b.c\r\nDate: yesterday-ish\r\nMessage-ID: no brackets here\r\n\r\ntext",
        b"Subject: only a subject\r\n\r\nbody",
    ],
    ids=["empty", "garbage", "no-boundary", "unknown-charset", "bad-base64", "bad-date", "no-from"],
)
def test_malformed_mail_is_stored_never_raises(parser: MailParser, raw: bytes) -> None:
    message = parser.parse(raw)
    assert message.platform_message_id
    assert "\x00" not in message.text
    if b"From: a@b.c" not in raw:
        assert message.automated  # nobody to answer: stored, never answered
    if raw == b"":
        assert message.platform_message_id == synthetic_id(b"")
    if b"x-no-such-charset" in raw:
        assert message.text == "Привет"


def test_missing_message_id_is_stable(parser: MailParser) -> None:
    raw = raw_letter({"From": "a@b.c"}, b"hello", "text/plain")
    assert parser.parse(raw).platform_message_id == parser.parse(raw).platform_message_id
    assert parser.parse(raw).platform_message_id != parser.parse(raw + b"!").platform_message_id


def test_huge_letter_is_truncated_with_a_mark(parser: MailParser) -> None:
    body = ("Очень длинное письмо. " * 60_000).encode()
    message = parser.parse(raw_letter(BASE, body, "text/plain; charset=utf-8"))
    assert len(message.text) < 21_000 and message.text.endswith("[…]")
    assert message.original_text is not None and len(message.original_text) <= 500_010
    assert message.meta["truncated"] is True
