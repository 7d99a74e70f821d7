"""What the admin bot says to operators (and to strangers), in Russian and English."""

from __future__ import annotations

from core.texts import choose

__all__ = ["ADMIN_TEXTS", "say"]

ADMIN_TEXTS: dict[str, dict[str, str]] = {
    "refused": {
        "ru": "Извините, этот бот только для операторов поддержки. Если вы оператор, попросите у "
        "администратора код приглашения и отправьте: /start КОД",
        "en": "Sorry, this bot is for support operators only. If you are an operator, ask your "
        "administrator for an invite code and send: /start CODE",
    },
    "invite_bad": {
        "ru": "Код приглашения неверный или уже использован.",
        "en": "The invite code is wrong or has already been used.",
    },
    "login_link": {
        "ru": "Ссылка для входа в веб-консоль (одноразовая, действует 15 минут, никому её не "
        "пересылайте):\n{url}",
        "en": "Your web console sign-in link (works once, for 15 minutes; do not forward it):\n{url}",
    },
    "login_private": {
        "ru": "Ссылку для входа пришлю только в личном чате: напишите мне /login.",
        "en": "I send sign-in links in a private chat only: send me /login there.",
    },
    "welcome": {
        "ru": "Здравствуйте, {name}! Вы оператор (группы: {groups}; одновременно до {capacity}). "
        "Новые обращения будут приходить сюда. /help — команды.",
        "en": "Hello, {name}! You are an operator (groups: {groups}; up to {capacity} at once). "
        "New requests will arrive here. /help lists the commands.",
    },
    "help": {
        "ru": "/queue [mine|breaching] — очередь\n/next — взять следующий\n/take N — взять #N\n"
        "/switch N — сделать #N активным\nЛюбое сообщение (и фото, файлы) — клиенту в активный "
        "разговор\n/via канал текст — ответить через другой канал клиента\n/close — закрыть и "
        "попросить оценку\n/transfer группа|оператор заметка — передать\n/category название — "
        "категория разговора (для отчётов)\n/note текст — внутренняя "
        "заметка (@имя — уведомить коллегу)\n/client — карточка клиента\n"
        "/history — история клиента во всех каналах\n"
        "/kb запрос — поиск в базе знаний\n/save [статья] — сохранить мой ответ в базу знаний\n"
        "/merge N, /unmerge N — объединить клиентов / отменить\n/away, /online — статус\n/report [период] — отчёт\n"
        "/login — ссылка для входа в веб-консоль",
        "en": "/queue [mine|breaching] — the queue\n/next — take the next one\n/take N — take #N\n"
        "/switch N — make #N active\nAny message (photos and files too) goes to the client of the "
        "active conversation\n/via channel text — answer through another channel of the client\n"
        "/close — close and ask for a rating\n/transfer group|operator note — hand over\n"
        "/category name — the conversation's category (for reports)\n"
        "/note text — internal note (@name tells a colleague)\n/client — the client's card\n"
        "/history — the client's history "
        "in every channel\n/kb query — search the knowledge base\n/save [article] — save my reply "
        "to the knowledge base\n/merge N, /unmerge N — merge clients / undo\n/away, /online — your status\n"
        "/report [period] — the report\n/login — a sign-in link for the web console",
    },
    "card": {
        "ru": "🆕 #{id} · {client} · {channel}\nКатегория: {category} · группа {group} · приоритет {priority}\n"
        "Ответить до: {deadline}\n\n{last}",
        "en": "🆕 #{id} · {client} · {channel}\nCategory: {category} · group {group} · priority {priority}\n"
        "Answer by: {deadline}\n\n{last}",
    },
    "card_taken": {"ru": "✅ Взял(а) {operator}", "en": "✅ Taken by {operator}"},
    "card_closed": {"ru": "☑️ Закрыт", "en": "☑️ Closed"},
    "rated": {
        "ru": "⭐ Клиент оценил разговор #{id}: {rating}/5.",
        "en": "⭐ The client rated conversation #{id}: {rating}/5.",
    },
    "rated_low": {
        "ru": "⚠️ Низкая оценка: клиент оценил разговор #{id} на {rating}/5 (оператор "
        "{operator}). Возможно, стоит связаться с клиентом.",
        "en": "⚠️ Low rating: the client rated conversation #{id} {rating}/5 (operator "
        "{operator}). It may be worth getting back to the client.",
    },
    "button_take": {"ru": "Взять", "en": "Take"},
    "button_later": {"ru": "Позже", "en": "Later"},
    "button_send": {"ru": "Отправить клиенту: {title}", "en": "Send to the client: {title}"},
    "later": {"ru": "Хорошо: #{id} остаётся в очереди.", "en": "Fine: #{id} stays in the queue."},
    "sla_warning": {
        "ru": "⏰ #{id} ({group}): срок ответа истекает {deadline}.",
        "en": "⏰ #{id} ({group}): the answer is due {deadline}.",
    },
    "sla_breached": {
        "ru": "🔥 #{id} ({group}): срок ответа нарушен ({deadline}).",
        "en": "🔥 #{id} ({group}): the answer is overdue ({deadline}).",
    },
    "lease_expired": {
        "ru": "↩️ #{id} вернулся в начало очереди: оператор долго не отвечал.",
        "en": "↩️ #{id} is back at the head of the queue: its operator went quiet.",
    },
    "queue_title": {"ru": "Очередь — {view}: {count}", "en": "Queue — {view}: {count}"},
    "view_waiting": {"ru": "ждут", "en": "waiting"},
    "view_mine": {"ru": "мои", "en": "mine"},
    "view_breaching": {"ru": "срок на исходе", "en": "due soon"},
    "queue_row": {
        "ru": "#{id} · {client} · {channel} · {category} · ждёт {waited} мин · до {deadline}\n  {preview}",
        "en": "#{id} · {client} · {channel} · {category} · waiting {waited} min · due {deadline}\n  {preview}",
    },
    "opened": {
        "ru": "💬 Активный разговор #{id}: {client} ({channel}). Ваши сообщения уйдут клиенту.\n\n{last}",
        "en": "💬 Active conversation #{id}: {client} ({channel}). Your messages go to the client.\n\n{last}",
    },
    "no_active": {
        "ru": "Нет активного разговора. /next — взять следующий, /queue — очередь.",
        "en": "No active conversation. /next takes the next one, /queue shows the queue.",
    },
    "switched": {
        "ru": "Активный разговор: #{id} ({client}).",
        "en": "Active conversation: #{id} ({client}).",
    },
    "mine_list": {
        "ru": "Ваши разговоры (/switch N):\n{rows}",
        "en": "Your conversations (/switch N):\n{rows}",
    },
    "closed": {
        "ru": "Разговор #{id} закрыт; клиента попросили оценить помощь.",
        "en": "Conversation #{id} is closed; the client was asked for a rating.",
    },
    "transferred_group": {
        "ru": "#{id} передан в группу {group}.",
        "en": "#{id} was handed to group {group}.",
    },
    "transferred_operator": {
        "ru": "#{id} передан оператору {name}.",
        "en": "#{id} was handed to {name}.",
    },
    "mentioned_you": {
        "ru": "💬 {sender} упоминает вас в разговоре #{id}: {note}",
        "en": "💬 {sender} mentions you in conversation #{id}: {note}",
    },
    "transferred_to_you": {
        "ru": "📨 Вам передан разговор #{id} от {sender}. Заметка: {note}",
        "en": "📨 {sender} handed conversation #{id} to you. Note: {note}",
    },
    "note_saved": {
        "ru": "Заметка сохранена в #{id} (клиент её не видит).",
        "en": "Note saved in #{id} (the client does not see it).",
    },
    "category_set": {
        "ru": "Категория #{id}: {category}.",
        "en": "Category of #{id}: {category}.",
    },
    "usage_take": {"ru": "Напишите номер: /take 12", "en": "Give the number: /take 12"},
    "usage_transfer": {
        "ru": "Так: /transfer группа|оператор заметка — например /transfer fraud проверьте операцию",
        "en": "Like this: /transfer group|operator note — e.g. /transfer fraud please check the payment",
    },
    "usage_category": {
        "ru": "Так: /category название — одна из:\n{names}",
        "en": "Like this: /category name — one of:\n{names}",
    },
    "usage_note": {"ru": "Так: /note текст заметки", "en": "Like this: /note the note's text"},
    "usage_kb": {"ru": "Так: /kb что ищем", "en": "Like this: /kb what to look for"},
    "usage_via": {
        "ru": "Так: /via vk|telegram|email|web текст",
        "en": "Like this: /via vk|telegram|email|web text",
    },
    "kb_nothing": {
        "ru": "В базе знаний ничего не нашлось.",
        "en": "Nothing found in the knowledge base.",
    },
    "kb_hits": {"ru": "Нашлось в базе знаний:", "en": "Found in the knowledge base:"},
    "kb_sent": {
        "ru": "Статья «{title}» отправлена клиенту в #{id}.",
        "en": "Article “{title}” was sent to the client of #{id}.",
    },
    "saved_article": {
        "ru": "Ваш ответ сохранён в базе знаний: статья {article_id}.",
        "en": "Your reply is saved in the knowledge base: article {article_id}.",
    },
    "saved_variant": {
        "ru": "Вопрос «{question}» добавлен к статье {article_id}.",
        "en": "The question “{question}” was added to article {article_id}.",
    },
    "away": {
        "ru": "Статус: отошёл(ла). Новые обращения не будут приходить, пока не напишете /online.",
        "en": "Status: away. No new requests will arrive until you send /online.",
    },
    "online": {
        "ru": "Статус: в сети. Новые обращения будут приходить сюда.",
        "en": "Status: online. New requests will arrive here.",
    },
    "client_message": {
        "ru": "💬 #{id} {client} ({channel}):\n{text}",
        "en": "💬 #{id} {client} ({channel}):\n{text}",
    },
    "client_edited": {
        "ru": "✏️ #{id} {client} исправил(а) сообщение:\n{text}",
        "en": "✏️ #{id} {client} edited a message:\n{text}",
    },
    "attachments": {"ru": "📎 вложения: {items}", "en": "📎 attachments: {items}"},
    "undelivered": {
        "ru": "⚠️ #{id}: сообщение клиенту не доставлено — {reason}.\nПодробности: {error}",
        "en": "⚠️ #{id}: a message to the client was not delivered — {reason}.\nDetails: {error}",
    },
    "button_resend": {"ru": "🔁 Отправить ещё раз", "en": "🔁 Send again"},
    "resent": {
        "ru": "Сообщение в #{id} отправлено ещё раз.",
        "en": "The message in #{id} was sent again.",
    },
    "channel_fault": {
        "ru": "🛠 Канал «{channel}» не принимает ответы клиентам: он не настроен или отклонил "
        "токен или доступ. Исправьте настройки канала; недоставленные ответы операторы смогут "
        "отправить ещё раз.\nПодробности: {error}",
        "en": "🛠 The “{channel}” channel refuses replies to clients: it is not configured, or "
        "refused its token or access. Fix the channel's settings; operators can then send the "
        "undelivered replies again.\nDetails: {error}",
    },
    "fault_recipient": {
        "ru": "клиент не может его получить: бот заблокирован, чат или адрес больше не существует",
        "en": "the client cannot receive it: the bot is blocked, or the chat or address is gone",
    },
    "fault_content": {
        "ru": "платформа не приняла само сообщение (слишком длинное или в неподходящем формате)",
        "en": "the platform refused the message itself (too long, or in a format it does not take)",
    },
    "fault_file": {
        "ru": "приложенный файл не найден, не читается или слишком велик",
        "en": "a file it carries is missing, unreadable or too big",
    },
    "fault_configuration": {
        "ru": "канал не настроен или отклонил токен или доступ: нужен администратор",
        "en": "the channel is not configured, or refused its token or access: an administrator is needed",
    },
    "fault_unreachable": {
        "ru": "платформа не приняла его вовремя (сеть, сбой или ограничение частоты)",
        "en": "the platform did not take it in time (network, outage or rate limit)",
    },
    "bounced": {
        "ru": "⚠️ #{id}: письмо клиенту вернулось (адрес не принимает почту).",
        "en": "⚠️ #{id}: a letter to the client bounced (the address does not accept mail).",
    },
    "client_card": {
        "ru": "👤 Клиент #{id}: {name}\nУровень: {tier} · язык: {client_language}\nТелефон: {phone} · email: {email}\n"
        "Каналы:\n{identities}\nРазговоров: {count}; открыты: {open}\nОценки: {ratings}\nС нами с {since}",
        "en": "👤 Client #{id}: {name}\nTier: {tier} · language: {client_language}\nPhone: {phone} · email: {email}\n"
        "Channels:\n{identities}\nConversations: {count}; open: {open}\nRatings: {ratings}\nWith us since {since}",
    },
    "hints": {
        "ru": "Возможно, тот же человек: {items}. Объединить только при подтверждении: /merge N",
        "en": "Possibly the same person: {items}. Merge only on proof: /merge N",
    },
    "usage_merge": {
        "ru": "Так: /merge N причина — клиент #N станет этим клиентом",
        "en": "Like this: /merge N reason — client #N becomes this client",
    },
    "usage_unmerge": {
        "ru": "Так: /unmerge N — N из сообщения об объединении",
        "en": "Like this: /unmerge N — N from the merge message",
    },
    "merged": {
        "ru": "Клиенты объединены (запись {record}): #{merged} → #{survivor}. Отменить: /unmerge {record}",
        "en": "Clients merged (record {record}): #{merged} → #{survivor}. Undo: /unmerge {record}",
    },
    "unmerged": {
        "ru": "Объединение {record} отменено: #{merged} снова отдельный клиент.",
        "en": "Merge {record} undone: #{merged} is a separate client again.",
    },
    "verified": {"ru": "подтверждён", "en": "verified"},
    "history_title": {
        "ru": "История клиента (последние {count}):",
        "en": "The client's history (last {count}):",
    },
    "author_client": {"ru": "клиент", "en": "client"},
    "author_bot": {"ru": "бот", "en": "bot"},
    "author_operator": {"ru": "оператор", "en": "operator"},
    "author_system": {"ru": "система", "en": "system"},
    "author_note": {"ru": "заметка", "en": "note"},
    "no_messages": {"ru": "(сообщений нет)", "en": "(no messages)"},
    "unknown_command": {
        "ru": "Не знаю такой команды. /help — список.",
        "en": "I don't know that command. /help lists them.",
    },
    "failed": {
        "ru": "Не получилось: ошибка записана в журнал.",
        "en": "That failed; the error is logged.",
    },
    "topic_name": {"ru": "#{id} {client} · {channel}", "en": "#{id} {client} · {channel}"},
    "topic_not_conversation": {
        "ru": "Эта тема не связана с разговором.",
        "en": "This topic is not linked to a conversation.",
    },
    "report_failed": {"ru": "Отчёт сейчас недоступен.", "en": "The report is not available now."},
    "nothing": {"ru": "—", "en": "—"},
}


def say(key: str, language: str | None, **values: object) -> str:
    return choose(ADMIN_TEXTS[key], language, **values)
