"""Cut a reply down to what the client wrote now: no quoted history, no signature.

mail-parser-reply splits a body at reply headers; as shipped it misses the headers of
Russian Gmail, Yandex, Mail.ru, Outlook and Thunderbird, so Russian patterns are added
here (without touching the library's global tables). The caller keeps the full text.
"""

from __future__ import annotations

import re
from typing import Any

from mailparser_reply.parser import EmailMessage as _ReplyParser

__all__ = ["strip_reply"]

_Q = r"(?:> ?)*"  # a header may itself sit inside a quote
_ADDRESS = r"(?:<\s?[^<>\s]+@[^<>\s]+>|[\w.+-]+@[\w.-]+\.\w+)"
_RUSSIAN: dict[str, Any] = {
    "wrote_header": [
        # Gmail:   "пн, 23 нояб. 2026 г. в 10:00, Служба поддержки <support@bank.ru>:"
        # Yandex:  "23.11.2026, 10:00, "Support" <support@bank.ru>:"
        # Mail.ru: "Понедельник, 23 ноября 2026, 10:00 +03:00 от Support <support@bank.ru>:"
        rf"^({_Q}[^\n>]{{0,120}}\d{{4}}[^\n]{{0,24}}?\d{{1,2}}:\d{{2}}"
        rf"[^\n]{{0,160}}?\s?{_ADDRESS}\)?\s?:)$",
        # Thunderbird, Apple Mail: "23.11.2026 10:00, Support пишет:", "… написал(а):"
        rf"^({_Q}(?!>)[^\n]{{0,200}}\s(?:пишет|написала?|написал\(а\)|писал\(а\)|писала?)\s?:)$",
        rf"^({_Q}-{{2,}}\s?(?:Исходное сообщение|Пересылаемое сообщение|Forwarded message)"
        rf"\s?-{{2,}})$",
    ],
    "from_header": (
        r"((?:(?:^|\n|\n" + _Q + r")[* ]*(?:От|Отправлено|Кому|Тема|Дата|Копия|Отправитель|"
        r"Получатель):[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})"
    ),
    "signatures": [
        "С уважением", "С наилучшими пожеланиями", "Всего доброго", "Всего хорошего",
        "Best regards", "Kind regards",
    ],
    "sent_from": r"Отправлено с|Отправлено из|Sent from my|Get Outlook for",
    "disclaimers": [],
}
_TRAILING_QUOTE = re.compile(r"(?:\n[ \t]*>[^\n]*)+\s*\Z")


class _RussianAwareReply(_ReplyParser):  # type: ignore[misc]
    def _get_language_regex(self, language: str, regex_key: str) -> str:
        if language == "ru":
            value = _RUSSIAN.get(regex_key, "")
            return "|".join(value) if isinstance(value, list) else str(value)
        return str(super()._get_language_regex(language, regex_key))


def strip_reply(text: str) -> str:
    """The newest part of a reply, without quoted history or signature."""
    if not text.strip():
        return ""
    parsed = _RussianAwareReply(text=text, languages=["ru"], keep_hyphen_lists=True).read()
    if not parsed.replies:
        return text.strip()
    newest = parsed.replies[0]
    if newest.headers:  # the letter starts with a quote: nothing new on top
        return ""
    body = _TRAILING_QUOTE.sub("", "\n" + newest.body).strip()
    return body
