"""The readable text of a letter: which parts hold it, how they are decoded, and
HTML-only letters turned into text.

Declared charsets are trusted first (koi8-r, windows-1251, …); a part without one, or
with a wrong or unknown one, is guessed with charset-normalizer. HTML blockquotes become
"> " lines before conversion, because inscriptis drops the quoting the reply reader
needs to see (where a reply stands, what an interleaved answer answers); signature blocks
get the "-- " line it looks for.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from email.message import Message

import lxml.etree
import lxml.html
from charset_normalizer import from_bytes
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

__all__ = ["decode_bytes", "is_body_part", "is_technical_part", "leaf_parts", "read_body"]

_CHARSET_ALIASES = {
    "x-mac-cyrillic": "mac_cyrillic",
    "win-1251": "cp1251",
    "cp-1251": "cp1251",
    "windows-1251-rus": "cp1251",
    "x-cp1251": "cp1251",
    "koi8r": "koi8_r",
    "unicode-1-1-utf-7": "utf-7",
    "ks_c_5601-1987": "cp949",
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
}
# Quoted letters: blockquotes (Gmail, Apple Mail, Thunderbird, Mail.ru, Yandex) and Yandex's
# quote container.
_QUOTE_XPATH = (
    "//blockquote | //*[contains(concat(' ', normalize-space(@class), ' '), ' yandex_quote ')]"
)
# Signature blocks of Gmail, Thunderbird and Outlook on the web: the "-- " line above them
# is optional in Gmail and missing in Outlook, and the reply reader needs it.
_SIGNATURE_XPATH = (
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' gmail_signature ')]"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' moz-signature ')]"
    " | //*[@id='Signature']"
)
# Blocks without the indentation inscriptis gives nested divs by default: mail programs
# nest divs deeply, and the indentation would end up in the client's text.
_LAYOUT = ParserConfig(css=CSS_PROFILES["strict"])
_TECHNICAL_TYPES = {
    "message/delivery-status",
    "text/rfc822-headers",
    "message/disposition-notification",
    "message/global-delivery-status",
    "message/global-headers",
}


def leaf_parts(message: Message) -> Iterator[Message]:
    """Non-multipart parts in order; an attached letter (message/rfc822) is one leaf."""
    if message.is_multipart() and message.get_content_maintype() == "multipart":
        payload = message.get_payload()
        for part in payload if isinstance(payload, list) else ():
            if isinstance(part, Message):
                yield from leaf_parts(part)
    else:
        yield message


def is_body_part(part: Message) -> bool:
    return (
        part.get_content_type() in {"text/plain", "text/html"}
        and part.get_content_disposition() != "attachment"
        and not part.get_filename()
    )


def is_technical_part(part: Message) -> bool:
    return part.get_content_type() in _TECHNICAL_TYPES


def read_body(message: Message) -> str:
    """Everything the client sent, as text: the plain part, else the HTML one, with its
    quoted parts marked with "> "."""
    plain: list[str] = []
    html: list[str] = []
    for part in leaf_parts(message):
        if not is_body_part(part):
            continue
        text = decode_part(part)
        (html if part.get_content_subtype() == "html" else plain).append(text)
    if (
        not plain
        and not html
        and message.get_content_maintype() == "multipart"
        and not message.is_multipart()
    ):
        plain.append(decode_part(message))  # malformed: a multipart without its boundary
    plain_text = "\n\n".join(t.strip("\n") for t in plain if t.strip())
    if plain_text or not html:
        return _tidy(plain_text)
    return _tidy(html_to_text("\n".join(html)))


def decode_part(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, AssertionError):
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    return decode_bytes(payload, part.get_content_charset())


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, else UTF-8, else the best guess."""
    if not data:
        return ""
    name = _CHARSET_ALIASES.get((charset or "").strip().lower(), (charset or "").strip().lower())
    if name:
        try:
            codecs.lookup(name)
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    cyrillic = _guess_cyrillic(data)
    if cyrillic is not None:
        return cyrillic
    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("utf-8", "replace")


def _guess_cyrillic(data: bytes) -> str | None:
    """Russian 8-bit text: windows-1251 or KOI8-R, whichever reads as mostly lower-case
    Cyrillic (the wrong one turns most letters into capitals). charset-normalizer
    confuses the two and misreads short Russian texts as Chinese."""
    best: tuple[float, str] | None = None
    for encoding in ("cp1251", "koi8_r"):
        text = data.decode(encoding, "replace")
        letters = [c for c in text if "\u0400" <= c <= "\u04ff"]
        high = sum(1 for byte in data if byte >= 0x80)
        alphabetic = sum(1 for c in text if c.isalpha())
        if not letters or len(letters) < 0.9 * high or len(letters) < 0.5 * alphabetic:
            continue
        lower = sum(1 for c in letters if c.islower()) / len(letters)
        if lower >= 0.6 and (best is None or lower > best[0]):
            best = (lower, text)
    return best[1] if best else None


def html_to_text(markup: str) -> str:
    if not markup.strip():
        return ""
    try:
        tree = lxml.html.document_fromstring(markup)
    except (lxml.etree.ParserError, ValueError):
        return str(get_text(markup, _LAYOUT))
    for signature in tree.xpath(_SIGNATURE_XPATH):
        _mark_signature(signature)
    for quote in reversed(tree.xpath(_QUOTE_XPATH)):  # the innermost first
        _mark_quote(quote)
    return str(get_text(lxml.html.tostring(tree, encoding="unicode"), _LAYOUT))


def _mark_signature(signature: lxml.html.HtmlElement) -> None:
    """Put a "-- " line above a signature block that has none."""
    before = signature.xpath("preceding::text()[normalize-space()][1]")
    if signature.text_content().lstrip().startswith("--") or (
        before and str(before[0]).strip() == "--"
    ):
        return
    delimiter = lxml.html.Element("pre")
    delimiter.text = "-- "
    signature.addprevious(delimiter)


def _mark_quote(quote: lxml.html.HtmlElement) -> None:
    """Replace a quote with its text as "> " lines (nested ones are marked already)."""
    parent = quote.getparent()
    if parent is None:
        return
    text = str(
        get_text(lxml.html.tostring(quote, encoding="unicode", with_tail=False), _LAYOUT)
    ).strip("\n")
    marked = lxml.html.Element("pre")
    marked.text = "\n".join(f"> {line}".rstrip() for line in text.split("\n"))
    marked.tail = quote.tail
    parent.replace(quote, marked)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip()
