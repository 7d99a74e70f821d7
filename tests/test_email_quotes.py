"""Reading a reply's structure: what the client wrote now, in order, apart from quoted
history; signatures and forwarded letters kept beside it for the operator; weird text
read whole, never an exception."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from channels.attachment_store import AttachmentStore
from channels.email.parse import MailParser
from channels.email.quotes import Reply, read_reply

CORPUS = Path(__file__).parent / "email_corpus"


@pytest.fixture
def parser(tmp_path: Path) -> MailParser:
    return MailParser("support@bank.test", AttachmentStore(tmp_path / "files", max_bytes=1000))


def test_android_russian_reply_keeps_only_the_new_words() -> None:
    reply = read_reply(
        "Документы отправил вчера.\n\n"
        '02.04.2012 14:20 пользователь "Служба поддержки" <support@bank.test> написал:\n\n'
        "> Пришлите справку о доходах.\n"
    )
    assert reply == Reply(fresh="Документы отправил вчера.")


def test_bottom_posted_reply_is_the_text_below_the_quote() -> None:
    assert read_reply("On 02.04.2012 14:20, Support wrote:\n> Hi\n\nHello\n").fresh == "Hello"


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, Apr 2, 2012 at 2:20 PM Bank Support <support@bank.test>\nwrote:",
        "пн, 2 апр. 2012 г. в 14:20, Служба поддержки <\nsupport@bank.test>:",
        '02.04.2012 14:20 пользователь "Служба поддержки"\n<support@bank.test> написал:',
    ],
    ids=["gmail-en", "gmail-ru", "android-ru"],
)
def test_a_header_wrapped_over_two_lines_is_recognised(header: str) -> None:
    assert read_reply(f"Не работает.\n\n{header}\n\n> Старое письмо\n").fresh == "Не работает."


def test_interleaved_answers_keep_the_paragraph_they_answer() -> None:
    reply = read_reply(
        "Support wrote:\n> Which card?\n>\n> Since when?\n\nSince Monday.\n\n"
        "> Which app version?\n\n2.4\n"
    )
    assert reply.fresh == "> Since when?\nSince Monday.\n\n> Which app version?\n2.4"


def test_signature_and_device_line_are_kept_apart() -> None:
    reply = read_reply(
        "Карта не работает.\n\nС уважением,\nИван Петров\n+7 900 000-00-00\n\nОтправлено с iPhone\n"
    )
    assert reply.fresh == "Карта не работает."
    assert reply.signature == "С уважением,\nИван Петров\n+7 900 000-00-00\n\nОтправлено с iPhone"


@pytest.mark.parametrize(
    "text",
    [
        "Всего доброго\n" + "\n".join(f"строка {n} письма" for n in range(10)),
        "С уважением, прошу разобраться с переводом.",
    ],
    ids=["long-tail", "sentence"],
)
def test_a_signoff_starting_the_clients_text_is_not_a_signature(text: str) -> None:
    assert read_reply(text) == Reply(fresh=text)


def test_a_signoff_with_the_name_on_its_line_is_a_signature() -> None:
    reply = read_reply("Жду ответа.\n\nС уважением, Иван Петров\n")
    assert (reply.fresh, reply.signature) == ("Жду ответа.", "С уважением, Иван Петров")


def test_signature_and_forwarded_letter_reach_the_message(parser: MailParser) -> None:
    signed = parser.parse((CORPUS / "outlook_desktop_ru.eml").read_bytes())
    assert str(signed.meta["signature"]).startswith("С уважением,\nПетров Иван Сергеевич")
    assert signed.original_text is not None and "Главный бухгалтер" in signed.original_text
    forwarded = parser.parse((CORPUS / "gmail_forward_ru.eml").read_bytes())
    assert forwarded.meta["forwarded"] == [
        {
            "from": "Интернет-магазин <noreply@shop.test>",
            "date": "вт, 1 дек. 2026 г. в 23:14",
            "subject": "Ваш заказ оплачен",
            "text": "Заказ № 5521 на сумму 12 990 руб. оплачен картой *4431.",
        }
    ]


@pytest.mark.parametrize(
    ("name", "sender", "date"),
    [
        ("yandex_forward_ru", "Госуслуги <no-reply@gov.test>", "30.11.2026, 11:02"),
        (
            "mailru_forward_ru",
            "Банк <info@bank-pay.test>",
            "Понедельник, 30 ноября 2026, 11:02 +03:00",
        ),
        (
            "apple_mail_en_forward_html",
            "Bank Alerts <alerts@bank.test>",
            "1 December 2026 at 23:14:08 GMT+3",
        ),
        (
            "thunderbird_ru_forward",
            "Уведомления банка <alerts@bank.test>",
            "Mon, 30 Nov 2026 23:14:08 +0300",
        ),
        (
            "outlook_forward_ru",
            "Бухгалтерия ООО «Вектор» <buh@vector.test>",
            "Monday, November 30, 2026 11:02 AM",
        ),
    ],
)
def test_forwarded_letters_keep_their_sender_and_date(
    parser: MailParser, name: str, sender: str, date: str
) -> None:
    (letter,) = parser.parse((CORPUS / f"{name}.eml").read_bytes()).meta["forwarded"]
    assert (letter["from"], letter["date"]) == (sender, date)
    assert letter["text"]


def test_outlook_header_is_a_forward_only_under_a_forward_subject() -> None:
    text = (
        "Посмотрите, пожалуйста.\n\nFrom: Vector <buh@vector.test>\n"
        "Sent: Monday, November 30, 2026 11:02 AM\nSubject: Счёт\n\nОплатите счёт.\n"
    )
    assert read_reply(text).forwarded == ()
    (letter,) = read_reply(text, forwarded_subject=True).forwarded
    assert (letter.sender, letter.subject, letter.text) == (
        "Vector <buh@vector.test>",
        "Счёт",
        "Оплатите счёт.",
    )


def test_a_forward_without_words_asks_about_the_forwarded_letter() -> None:
    reply = read_reply(
        "---------- Forwarded message ---------\nFrom: Bank <a@bank.test>\n"
        "Date: Tue, Dec 1, 2026 at 11:14 PM\n\nYour card is blocked.\n"
    )
    assert reply.fresh == "Your card is blocked."


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n\n",
        ">",
        "> > >\n>",
        "--",
        "wrote:",
        "On wrote:\n>",
        "From:\nTo:\n",
        "________________________________",
        "-------- Пересылаемое сообщение --------",
        "Начало переадресованного сообщения:\n>",
        "\x00\ufeff\u202e",
        "a\r\nb\rc",
        "> " * 5000,
        ("1" * 399 + "\n") * 3 + "<a@b.c>:",
    ],
)
def test_weird_text_never_raises(text: str) -> None:
    reply = read_reply(text)
    assert isinstance(reply.fresh, str) and isinstance(reply.signature, str)


def test_a_letter_without_any_structure_is_all_fresh_text() -> None:
    text = "Тема: перевод\nОт: 12 000 руб.\n\nПочему перевод идёт два дня?"
    assert read_reply(text) == Reply(fresh=text)


def test_a_huge_letter_is_read_in_linear_time() -> None:
    text = (
        "Вопрос по карте.\n\n"
        + "> строка старого письма\n" * 20_000
        + "\n".join(f"ответ {n}" for n in range(20_000))
    )
    started = time.perf_counter()
    reply = read_reply(text)
    assert time.perf_counter() - started < 5
    assert reply.fresh.startswith("Вопрос по карте.")


@pytest.mark.parametrize(
    "text",
    [
        "Sent from my account 500 dollars to my wife yesterday.\nShe got nothing.",
        "Отправлено с карты 500 рублей.\n" + "\n".join(f"Подробность {n}." for n in range(8)),
    ],
    ids=["long-line", "long-tail"],
)
def test_a_sentence_that_starts_like_a_device_line_is_the_clients_text(text: str) -> None:
    assert read_reply(text) == Reply(fresh=text)
