"""Threading: Message-IDs we generate, the ids a reply points at, and the `[#123]` tag.

Ids are kept in their header form, angle brackets included (`<abc@host>`), everywhere:
as `InboundMessage.platform_message_id`, in `reply_to`, and in `DeliveryReceipt`.
`reply_to` tuples are in thread order, like `References`: oldest first, the message
answered last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "add_tag",
    "clean_subject",
    "domain_of",
    "forwarded_subject",
    "message_id_for",
    "outbound_id_of",
    "parse_ids",
    "reference_headers",
    "reply_chain",
    "reply_subject",
    "subject_tag",
]

_ID = re.compile(r"<([^<>\s]+)>")
_TAG = re.compile(r"\[#(\d{1,12})\]")
# "Re:", "RE[2]:", "Fwd:", "Ответ:", "Отв:", "Пересл.:", "HA:" (Outlook's "На:"), "AW:", "SV:"
_FORWARD_PREFIXES = r"fwd?|wg|пересл|перес|пер"
_PREFIX_TAIL = r"\s*(?:\[\d+\]|\(\d+\))?\s*\.?\s*[:：]\s*"
_PREFIX = re.compile(
    rf"^\s*(?:re|aw|sv|vs|antw|ответ|отв|на|{_FORWARD_PREFIXES}){_PREFIX_TAIL}", re.IGNORECASE
)
_FORWARD_PREFIX = re.compile(rf"^\s*(?:{_FORWARD_PREFIXES}){_PREFIX_TAIL}", re.IGNORECASE)
_MAX_REFERENCES = 20
_OUR_ID_PREFIX = "switchboard."


def domain_of(address: str) -> str:
    """The domain of our address, used on the right of our Message-IDs."""
    return address.rpartition("@")[2].strip().lower() or "localhost"


def message_id_for(outbound_id: int, domain: str) -> str:
    """The Message-ID of our outbound message: a retry sends the same id, so a
    client's mail program shows a duplicate delivery as one letter."""
    return f"<{_OUR_ID_PREFIX}{outbound_id}@{domain}>"


def outbound_id_of(message_id: str, domain: str) -> int | None:
    """Our outbound id back from a Message-ID we generated, else None."""
    match = re.fullmatch(
        rf"<{re.escape(_OUR_ID_PREFIX)}(\d+)@{re.escape(domain)}>",
        message_id.strip(),
        re.IGNORECASE,
    )
    return int(match.group(1)) if match else None


def parse_ids(value: str | None) -> list[str]:
    """Message ids in a header value (`In-Reply-To`, `References`), in header order.
    Broken mailers omit the brackets: a lone bare token with an @ is accepted."""
    if not value:
        return []
    found = [f"<{token}>" for token in _ID.findall(value)]
    if not found:
        found = [f"<{token.strip('<>')}>" for token in value.split() if "@" in token]
    return found


def reply_chain(in_reply_to: str | None, references: str | None) -> tuple[str, ...]:
    """The ids a message answers in thread order, without repeats."""
    answered = parse_ids(in_reply_to)
    ids = [i for i in parse_ids(references) if i not in answered] + answered
    return tuple(dict.fromkeys(ids))


def reference_headers(reply_to: Sequence[str]) -> tuple[str | None, str | None]:
    """`In-Reply-To` and `References` for a reply to `reply_to` (thread order)."""
    found = [i for raw in reply_to for i in parse_ids(raw if "<" in raw else f"<{raw}>")]
    ids = list(dict.fromkeys(reversed(found)))[::-1]  # a repeat counts where it is last
    if not ids:
        return None, None
    return ids[-1], " ".join(ids[-_MAX_REFERENCES:])


def subject_tag(subject: str | None) -> int | None:
    """The conversation number in a `[#123]` subject tag."""
    match = _TAG.search(subject or "")
    return int(match.group(1)) if match else None


def add_tag(subject: str | None, conversation_id: int | None) -> str:
    """The subject with our `[#id]` tag; an existing tag for the same id is kept."""
    text = (subject or "").strip()
    if conversation_id is None or subject_tag(text) == conversation_id:
        return text
    text = _TAG.sub("", text).strip()
    return f"{text} [#{conversation_id}]".strip()


def reply_subject(subject: str | None, conversation_id: int | None) -> str:
    """ "Re: <topic> [#id]" with one prefix, however many the thread collected."""
    text = (subject or "").strip()
    if _PREFIX.match(text):
        text = "Re: " + clean_subject(text)
    return add_tag(text, conversation_id)


def forwarded_subject(subject: str | None) -> bool:
    """The subject opens with a forward prefix ("Fwd:", "FW:", "Пересл:")."""
    return bool(_FORWARD_PREFIX.match(subject or ""))


def clean_subject(subject: str | None) -> str:
    """The subject without reply/forward prefixes (English and Russian) and tags."""
    text = _TAG.sub("", subject or "")
    previous = None
    while previous != text:
        previous, text = text, _PREFIX.sub("", text)
    return " ".join(text.split())
