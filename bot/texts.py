"""What the bot and the desk say, in Russian and English.

`say(key, language, **values)` picks the text; `language_of(text, fallback)` guesses which
language a client wrote in, so the bot answers in it.
"""

from __future__ import annotations

import re

__all__ = ["TEXTS", "choose", "language_of", "say"]

TEXTS: dict[str, dict[str, str]] = {
    "greeting": {
        "ru": "Здравствуйте! Я бот поддержки. Напишите ваш вопрос — отвечу сразу или передам оператору.",
        "en": "Hello! I'm the support bot. Type your question: I'll answer right away or pass it to an operator.",
    },
    "thanks": {
        "ru": "Пожалуйста! Если появятся ещё вопросы — пишите.",
        "en": "You're welcome! Write any time you have another question.",
    },
    "empty": {
        "ru": "Похоже, сообщение пустое. Напишите, пожалуйста, ваш вопрос словами.",
        "en": "That message looks empty. Please type your question in words.",
    },
    "sticker": {
        "ru": "Спасибо за стикер! Я понимаю только текст — напишите, чем помочь.",
        "en": "Thanks for the sticker! I only understand text: tell me how I can help.",
    },
    "file_received": {
        "ru": "Файл получил. Опишите, пожалуйста, вопрос словами или позовите оператора — он увидит файл.",
        "en": "Got your file. Please describe the question in words, or ask for an operator: they will see the file.",
    },
    "clarify": {
        "ru": "Уточните, пожалуйста, что вы имеете в виду:",
        "en": "Could you tell me which of these you mean?",
    },
    "clarify_email": {
        "ru": "Ответьте, пожалуйста, номером подходящего варианта или опишите вопрос подробнее.",
        "en": "Please reply with the number of the option that fits, or describe the question in more detail.",
    },
    "button_handoff": {"ru": "Позвать оператора", "en": "Talk to a person"},
    "handoff_queued": {
        "ru": "Передаю ваш вопрос оператору. Вы {position}-й в очереди, ответим до {deadline}.",
        "en": "I'm passing your question to an operator. You are number {position} in the queue; "
              "we will answer by {deadline}.",
    },
    "handoff_queued_no_position": {
        "ru": "Передаю ваш вопрос оператору, ответим до {deadline}.",
        "en": "I'm passing your question to an operator; we will answer by {deadline}.",
    },
    "handoff_after_hours": {
        "ru": "Передаю ваш вопрос оператору. Сейчас нерабочее время: операторы вернутся {opening}, "
              "и ответим до {deadline}.",
        "en": "I'm passing your question to an operator. It is outside working hours now: operators are "
              "back {opening}, and we will answer by {deadline}.",
    },
    "still_queued": {
        "ru": "Ваш вопрос уже в очереди, оператор скоро ответит. Новые сообщения он тоже увидит.",
        "en": "Your question is already in the queue and an operator will answer soon. They will see "
              "your new messages too.",
    },
    "operator_joined": {
        "ru": "Оператор {operator} подключился к разговору.",
        "en": "Operator {operator} has joined the conversation.",
    },
    "rate_request": {
        "ru": "Разговор завершён. Оцените, пожалуйста, помощь от 1 до 5.",
        "en": "The conversation is closed. Please rate the help from 1 to 5.",
    },
    "rate_request_email": {
        "ru": "Разговор завершён. Оцените, пожалуйста, помощь: ответьте на это письмо цифрой от 1 до 5.",
        "en": "The conversation is closed. Please rate the help: reply to this letter with a digit from 1 to 5.",
    },
    "rated": {
        "ru": "Спасибо за оценку!",
        "en": "Thank you for the rating!",
    },
    "desk_nothing_waiting": {"ru": "Очередь пуста.", "en": "The queue is empty."},
    "desk_not_found": {"ru": "Разговор #{conversation_id} не найден.",
                       "en": "Conversation #{conversation_id} not found."},
    "desk_taken": {"ru": "Разговор #{conversation_id} уже взял(а) {holder}.",
                   "en": "Conversation #{conversation_id} was already taken by {holder}."},
    "desk_not_queued": {"ru": "Разговор #{conversation_id} не ждёт в очереди.",
                        "en": "Conversation #{conversation_id} is not waiting in the queue."},
    "desk_not_yours": {"ru": "Разговор #{conversation_id} ведёт другой оператор. Сначала возьмите его.",
                       "en": "Conversation #{conversation_id} is handled by another operator. Take it first."},
    "desk_over_capacity": {"ru": "У вас уже {capacity} активных разговоров — закройте один, чтобы взять новый.",
                           "en": "You already have {capacity} active conversations: close one to take another."},
    "desk_closed": {"ru": "Разговор #{conversation_id} уже закрыт.",
                    "en": "Conversation #{conversation_id} is already closed."},
    "desk_empty_reply": {"ru": "Пустой ответ не отправлен.", "en": "An empty reply was not sent."},
    "desk_transfer_target": {"ru": "Укажите группу или оператора для передачи.",
                             "en": "Name a group or an operator to transfer to."},
    "desk_bad_group": {"ru": "Нет такой группы: {group}.", "en": "No such group: {group}."},
    "desk_operator_unknown": {"ru": "Оператор «{name}» не найден.", "en": "Operator “{name}” not found."},
    "desk_operator_unavailable": {"ru": "Оператор {name} сейчас не в сети.",
                                  "en": "Operator {name} is offline now."},
    "desk_operator_full": {"ru": "У оператора {name} нет свободных мест ({capacity}).",
                           "en": "Operator {name} has no free slots ({capacity})."},
    "desk_no_reply_to_save": {"ru": "В разговоре #{conversation_id} ещё нет вашего ответа клиенту.",
                              "en": "You have not answered the client in conversation #{conversation_id} yet."},
    "desk_article_unknown": {"ru": "Статья «{article_id}» не найдена.",
                             "en": "Article “{article_id}” not found."},
    "desk_no_channel": {"ru": "Клиент не писал через канал {channel}.",
                        "en": "The client has not written through {channel}."},
    "too_many_answers": {
        "ru": "Мы получили ваше письмо, оператор ответит.",
        "en": "We have received your letter; an operator will answer.",
    },
}

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)


def say(key: str, language: str | None, **values: object) -> str:
    return choose(TEXTS[key], language, **values)


def choose(variants: dict[str, str], language: str | None, **values: object) -> str:
    """The text in `language` (Russian when there is none), with `values` filled in."""
    text = variants.get(language or "ru", variants["ru"])
    return text.format(**values) if values else text


def language_of(text: str, fallback: str) -> str:
    """'ru' when the text has Cyrillic letters, 'en' when it has only Latin ones."""
    if _CYRILLIC.search(text):
        return "ru"
    if _LATIN.search(text):
        return "en"
    return fallback
