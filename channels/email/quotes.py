"""A client's letter read the way mail programs write replies: what the client wrote now,
their signature, and the letters they forwarded, apart from the quoted history.

The letter is cut into the client's own lines, quoted lines ("> …") and the headers mail
programs put above a quote (attribution lines, Outlook's header block, separators; see
`markers`). A reply may stand above the quote (top-posting), below it (bottom-posting) or
between its parts (interleaving): the client's lines are kept in order, and in an
interleaved reply each answer keeps the quoted paragraph it answers, as a quote. An
unquoted header (Outlook) means everything below it is history. HTML letters arrive here
with their blockquotes already turned into "> " lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from channels.email.forwarded import Forwarded, read_forwarded
from channels.email.markers import (
    ATTRIBUTION_START,
    attribution_of,
    field_block,
    field_of,
    first_filled,
    separator_of,
)
from channels.email.signature import split_signature

__all__ = ["Reply", "read_reply"]

log = logging.getLogger(__name__)

HeaderKind = Literal["reply", "original", "forward", "forward_end"]
_QUOTE_MARKS = re.compile(r"^[ \t]{0,3}((?:>[ \t]?)+)")
_WRAPPED_TAIL_CHARS = 100  # the second line of an attribution a mail program wrapped


@dataclass(frozen=True, slots=True)
class Reply:
    """`fresh` is what the client wrote now (the question); `signature` and `forwarded` are
    kept for the operator beside it."""

    fresh: str
    signature: str = ""
    forwarded: tuple[Forwarded, ...] = ()


@dataclass(frozen=True, slots=True)
class _Line:
    depth: int  # how many quote marks stand before the text
    text: str

    def shown(self, shallower: int = 0) -> str:
        depth = max(self.depth - shallower, 0)
        return f"{'>' * depth} {self.text}".rstrip() if depth else self.text


@dataclass(frozen=True, slots=True)
class _Block:
    quoted: bool
    lines: tuple[_Line, ...]


def read_reply(text: str, *, forwarded_subject: bool = False) -> Reply:
    """The parts of a letter's text. `forwarded_subject` says the subject marks a forward
    ("Fwd:", "Пересл:"): Outlook's header block then opens a forwarded letter, not history.
    A letter nothing is recognised in is all fresh text; so is one that trips the reader."""
    try:
        return _read(
            [_line(raw) for raw in text.replace("\r\n", "\n").split("\n")], forwarded_subject
        )
    except Exception:  # a weird letter is shown whole, never lost
        log.exception("could not read the reply structure of a %d-character letter", len(text))
        return Reply(fresh=text.strip())


def _line(raw: str) -> _Line:
    marks = _QUOTE_MARKS.match(raw)
    if marks is None:
        return _Line(0, raw.rstrip())
    return _Line(marks.group(1).count(">"), raw[marks.end() :].rstrip())


def _read(lines: Sequence[_Line], forwarded_subject: bool) -> Reply:
    blocks, forwarded = _Letter(lines).blocks(forwarded_subject)
    answers: list[tuple[int, str]] = []
    signatures: list[str] = []
    for index, block in enumerate(blocks):
        if block.quoted:
            continue
        words, signature = split_signature([line.text for line in block.lines])
        if _joined(signature):
            signatures.append(_joined(signature))
        if _joined(words):
            answers.append((index, _joined(words)))
    interleaved = len(answers) > 1 or any(
        0 < index < len(blocks) - 1 and blocks[index - 1].quoted and blocks[index + 1].quoted
        for index, _ in answers
    )
    parts = [
        _with_context(blocks, index, words) if interleaved else words for index, words in answers
    ]
    if parts:
        fresh = "\n\n".join(parts)
    elif forwarded:  # forwarded without a word: the forwarded letter is what they ask about
        fresh = "\n\n".join(letter.text for letter in forwarded if letter.text)
    elif signatures:
        fresh = ""
    else:
        fresh = _joined([line.shown() for line in lines])
    return Reply(fresh=fresh, signature="\n\n".join(signatures), forwarded=tuple(forwarded))


class _Letter:
    """The letter's lines with the scans over them; `texts` has quoted lines as ">" so a
    quoted line is never taken for a blank line or a header field."""

    def __init__(self, lines: Sequence[_Line]) -> None:
        self.lines = lines
        self.texts = [line.text if not line.depth else ">" for line in lines]

    def blocks(self, forwarded_subject: bool) -> tuple[list[_Block], list[Forwarded]]:
        """The letter as runs of the client's lines and of quoted lines, headers left
        out, and the forwarded letters found in it."""
        lines = self.lines
        blocks: list[_Block] = []
        forwarded: list[Forwarded] = []
        own: list[_Line] = []
        index = 0
        while index < len(lines):
            line = lines[index]
            header = None if line.depth else self.header(index)
            if not line.depth and header is None:
                own.append(line)
                index += 1
                continue
            if own:
                blocks.append(_Block(quoted=False, lines=tuple(own)))
                own = []
            if header is None:
                end = self.quote_end(index)
                if separator_of(line.text.strip()) == "forward":  # Apple Mail quotes it whole
                    forwarded.append(
                        read_forwarded(
                            [quoted.shown(shallower=1) for quoted in lines[index + 1 : end]]
                        )
                    )
                else:
                    blocks.append(_Block(quoted=True, lines=tuple(lines[index:end])))
                index = end
                continue
            end, kind = header
            if kind == "forward_end":
                index = end
                continue
            if kind == "forward" or (kind == "original" and forwarded_subject and not forwarded):
                letter, index = self.forwarded(end)
                forwarded.append(letter)
                continue
            if kind == "original":  # past the header block's fields
                end = field_block(self.texts, first_filled(self.texts, end))[0]
            following = first_filled(self.texts, end)
            if following < len(lines) and lines[following].depth:
                index = following
                continue
            break  # an unquoted header: the rest is the letter answered
        if own:
            blocks.append(_Block(quoted=False, lines=tuple(own)))
        return blocks, forwarded

    def header(self, index: int) -> tuple[int, HeaderKind] | None:
        """A header starting at `index`: the index after its marker line(s) and its kind.
        A header block's fields are not part of the marker: a forwarded letter's are read."""
        text = self.texts[index].strip()
        separator = separator_of(text)
        if separator == "rule":
            _, fields = field_block(self.texts, first_filled(self.texts, index + 1))
            return (index + 1, "original") if "from" in fields else None
        if separator is not None:
            return index + 1, separator
        first_field = field_of(text)
        if (
            first_field is not None
            and first_field[0] == "from"
            and len(field_block(self.texts, index)[1]) > 1
        ):  # Outlook's block opens with From
            return index, "original"
        end = self.attribution_end(index)
        return (end, "reply") if end is not None else None

    def attribution_end(self, index: int) -> int | None:
        """The index after an attribution line ("On …, Ann <ann@x.com> wrote:"), which
        mail programs may wrap over two lines; None when there is none at `index`."""
        first = self.texts[index].strip()
        if not first:
            return None
        if self.is_attribution(first, index + 1):
            return index + 1
        second = self.texts[index + 1].strip() if index + 1 < len(self.lines) else ""
        if (
            not second
            or self.lines[index + 1].depth
            or len(second) > _WRAPPED_TAIL_CHARS
            or not ATTRIBUTION_START.match(first)
            or _complete_attribution(second)
        ):
            return None
        return index + 2 if self.is_attribution(f"{first} {second}", index + 2) else None

    def is_attribution(self, text: str, after: int) -> bool:
        """A complete attribution, or a "… wrote:" with a quote right below it."""
        if _complete_attribution(text):
            return True
        following = first_filled(self.texts, after)
        return (
            attribution_of(text) is not None
            and following < len(self.lines)
            and self.lines[following].depth > 0
        )

    def forwarded(self, start: int) -> tuple[Forwarded, int]:
        """The forwarded letter after its marker and the index after it: Apple Mail
        quotes it whole, the others run to the end, their end marker or the next forward."""
        lines = self.lines
        first = first_filled(self.texts, start)
        if first < len(lines) and lines[first].depth:
            end = self.quote_end(first)
            return read_forwarded([line.shown(shallower=1) for line in lines[first:end]]), end
        end = start
        while end < len(lines) and (
            lines[end].depth
            or separator_of(self.texts[end].strip()) not in {"forward", "forward_end"}
        ):
            end += 1
        return read_forwarded([line.shown() for line in lines[start:end]]), end

    def quote_end(self, index: int) -> int:
        """The index after the quoted run at `index` (blank lines inside it belong to it)."""
        while index < len(self.lines):
            if self.lines[index].depth:
                index += 1
                continue
            following = first_filled(self.texts, index)
            if following > index and following < len(self.lines) and self.lines[following].depth:
                index = following
                continue
            break
        return index


def _complete_attribution(text: str) -> bool:
    """An attribution on its own: the quoted author's address and a time, or "… wrote:"
    opening like one (with "On …", a date or a weekday)."""
    found = attribution_of(text)
    return found is not None and (found.addressed or bool(ATTRIBUTION_START.match(text)))


def _with_context(blocks: Sequence[_Block], index: int, words: str) -> str:
    """An interleaved answer with the quoted paragraph right above it, as a quote."""
    if index == 0 or not blocks[index - 1].quoted:
        return words
    quoted = list(blocks[index - 1].lines)
    while quoted and not quoted[-1].text.strip():
        quoted.pop()
    start = len(quoted)
    while start > 0 and quoted[start - 1].text.strip():
        start -= 1
    context = "\n".join(line.shown() for line in quoted[start:])
    return f"{context}\n{words}" if context else words


def _joined(lines: Sequence[str]) -> str:
    """Lines as one text: no blank lines at the ends, at most one in a row."""
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in lines)).strip("\n")
