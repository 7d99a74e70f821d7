"""What the bot and the desk say, in Russian and English.

`say(key, language, **values)` picks the text; which language a client wrote in is
guessed from their words (`kb.text.language_of`), so the bot answers in it.
"""

from __future__ import annotations

__all__ = ["TEXTS", "Refusal", "choose", "locale_language", "say"]

TEXTS: dict[str, dict[str, str]] = {
    "greeting": {
        "ru": "Здравствуйте! Я бот поддержки. Напишите ваш вопрос — отвечу сразу или передам оператору.",
        "en": "Hello! I'm the support bot. Type your question: I'll answer right away or pass it to an operator.",
    },
    "same_answer": {
        "ru": "Об этом — мой ответ выше, другого у меня нет. Если он не помог, нажмите «Позвать "
        "оператора»: передам вопрос оператору.",
        "en": "My answer above is all I have on this. If it didn't help, press “Talk to a person” "
        "and I'll pass your question to an operator.",
    },
    "describe": {
        "ru": "Слушаю вас! Опишите, пожалуйста, ваш вопрос одним-двумя предложениями — отвечу сразу "
        "или передам оператору.",
        "en": "I'm listening! Please describe your question in a sentence or two: I'll answer right "
        "away or pass it to an operator.",
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
    "kb_other_language": {
        "ru": "Этот ответ у нас есть только на английском:",
        "en": "We have this answer in Russian only:",
    },
    "clarify_email": {
        "ru": "Ответьте, пожалуйста, номером подходящего варианта или опишите вопрос подробнее.",
        "en": "Please reply with the number of the option that fits, or describe the question in more detail.",
    },
    "button_handoff": {"ru": "Позвать оператора", "en": "Talk to a person"},
    "handoff_queued": {
        "ru": "Передаю ваш вопрос оператору. Вы {position}-й в очереди, ответим {deadline}.",
        "en": "I'm passing your question to an operator. You are number {position} in the queue; "
        "we will answer {deadline}.",
    },
    "handoff_assigned": {
        "ru": "Передаю ваш вопрос оператору — вам скоро ответит {operator}.",
        "en": "I'm passing your question to {operator}, an operator, who will answer here shortly.",
    },
    "handoff_queued_no_position": {
        "ru": "Передаю ваш вопрос оператору, ответим {deadline}.",
        "en": "I'm passing your question to an operator; we will answer {deadline}.",
    },
    "handoff_after_hours": {
        "ru": "Передаю ваш вопрос оператору. Сейчас нерабочее время: операторы вернутся {opening}, "
        "и ответим {deadline}.",
        "en": "I'm passing your question to an operator. It is outside working hours now: operators are "
        "back {opening}, and we will answer {deadline}.",
    },
    "still_queued": {
        "ru": "Получили ваше сообщение: вопрос уже в очереди, оператор увидит и это сообщение, "
        "и все следующие.",
        "en": "Got your message: your question is already in the queue, and the operator will see "
        "this message and any you add.",
    },
    "card_masked": {
        "ru": "Похоже, в сообщении был номер банковской карты: мы его скрыли. Не присылайте в чат "
        "номер карты, CVV-код и коды из SMS — сотрудникам они не нужны.",
        "en": "Your message seemed to hold a bank card number: we have hidden it. Please do not "
        "send card numbers, CVV codes or SMS codes here; our staff never need them.",
    },
    "place_queued": {
        "ru": "Ваш вопрос в очереди: вы {position}-й, оператор ответит {deadline}. Он увидит все "
        "ваши сообщения.",
        "en": "Your question is in the queue: you are number {position}, and an operator will answer "
        "{deadline}. They will see all your messages.",
    },
    "place_queued_no_position": {
        "ru": "Ваш вопрос в очереди, оператор ответит {deadline}. Он увидит все ваши сообщения.",
        "en": "Your question is in the queue, and an operator will answer {deadline}. They will see "
        "all your messages.",
    },
    "place_after_hours": {
        "ru": "Ваш вопрос в очереди. Сейчас нерабочее время: операторы вернутся {opening}, и ответим "
        "{deadline}.",
        "en": "Your question is in the queue. It is outside working hours now: operators are back "
        "{opening}, and we will answer {deadline}.",
    },
    "place_overdue": {
        "ru": "Простите, что ответ задерживается: ваш вопрос в очереди, оператор ответит как можно "
        "скорее. Он увидит все ваши сообщения.",
        "en": "Sorry that the answer is taking longer: your question is in the queue, and an "
        "operator will answer as soon as possible. They will see all your messages.",
    },
    "answered_in_queue": {
        "ru": "Если этого ответа достаточно, нажмите «Вопрос решён», и мы снимем вопрос с очереди. "
        "Если нет, вы остаётесь в очереди: оператор ответит.",
        "en": "If this answer is enough, press “Question solved” and we will take your question off "
        "the queue. If not, you stay in the queue: an operator will answer.",
    },
    "answered_in_queue_email": {
        "ru": "Если этого ответа достаточно, ответьте на письмо словами «Вопрос решён», и мы снимем "
        "вопрос с очереди. Если нет, вы остаётесь в очереди: оператор ответит.",
        "en": "If this answer is enough, reply “Question solved” and we will take your question off "
        "the queue. If not, you stay in the queue: an operator will answer.",
    },
    "thanks_in_queue": {
        "ru": "Пожалуйста! Если ответ помог, нажмите «Вопрос решён», и мы снимем вопрос с очереди. "
        "Если нет, оператор ответит.",
        "en": "You're welcome! If the answer helped, press “Question solved” and we will take your "
        "question off the queue. If not, an operator will answer.",
    },
    "not_needed_in_queue": {
        "ru": "Снять вопрос с очереди? Если помощь больше не нужна, нажмите «Вопрос решён». "
        "Если нужна, оператор ответит.",
        "en": "Shall we take your question off the queue? If you need no more help, press "
        "“Question solved”. If you do, an operator will answer.",
    },
    "not_needed_in_queue_email": {
        "ru": "Снять вопрос с очереди? Если помощь больше не нужна, ответьте на письмо словами "
        "«Вопрос решён». Если нужна, оператор ответит.",
        "en": "Shall we take your question off the queue? If you need no more help, reply "
        "“Question solved”. If you do, an operator will answer.",
    },
    "thanks_in_queue_email": {
        "ru": "Пожалуйста! Если ответ помог, ответьте на письмо словами «Вопрос решён», и мы снимем "
        "вопрос с очереди. Если нет, оператор ответит.",
        "en": "You're welcome! If the answer helped, reply “Question solved” and we will take your "
        "question off the queue. If not, an operator will answer.",
    },
    "button_resolved": {"ru": "Вопрос решён", "en": "Question solved"},
    "withdrawn": {
        "ru": "Хорошо, сняли вопрос с очереди. Если понадобится помощь, просто напишите.",
        "en": "Good: your question is off the queue. If you need help again, just write.",
    },
    "operator_has_it": {
        "ru": "Вашим вопросом уже занимается оператор {operator}: пишите здесь, оператор видит "
        "все ваши сообщения.",
        "en": "{operator}, an operator, already has your question: write here, and every message "
        "reaches them.",
    },
    "operator_joined": {
        "ru": "Вам отвечает оператор {operator}.",
        "en": "You are now talking to {operator}, an operator.",
    },
    "rate_request": {
        "ru": "Разговор завершён. Оцените, пожалуйста, помощь от 1 до 5.",
        "en": "The conversation is closed. Please rate the help from 1 to 5.",
    },
    "closed_unanswered": {
        "ru": "Мы не получили от вас ответа, поэтому закрываем обращение. Если вопрос остался, просто напишите нам — мы продолжим.",
        "en": "We haven't heard back from you, so we're closing this request. If you still need help, just write to us and we'll pick it up.",
    },
    "rate_request_email": {
        "ru": "Разговор завершён. Оцените, пожалуйста, помощь: ответьте на это письмо цифрой от 1 до 5.",
        "en": "The conversation is closed. Please rate the help: reply to this letter with a digit from 1 to 5.",
    },
    "rated": {
        "ru": "Спасибо за оценку!",
        "en": "Thank you for the rating!",
    },
    "quarantined": {
        "ru": "Не получилось автоматически разобрать ваше сообщение. Оно сохранено и передано "
        "оператору — он ответит вам здесь.",
        "en": "I couldn't process your message automatically. It is saved and passed to an "
        "operator, who will answer you here.",
    },
    "desk_nothing_waiting": {"ru": "Очередь пуста.", "en": "The queue is empty."},
    "desk_macro_invalid": {
        "ru": "У шаблона должны быть название (до {title} символов) и текст (до {text}).",
        "en": "A saved reply needs a title (up to {title} characters) and a text (up to {text}).",
    },
    "desk_file_too_big": {
        "ru": "Файл «{name}» больше {limit} МБ: бот Telegram не может его скачать, "
        "и клиенту ничего не отправлено. Сожмите файл или пришлите ссылку на него.",
        "en": "The file “{name}” is over {limit} MB, more than a Telegram bot can download; "
        "nothing was sent to the client. Compress it or send a link to it.",
    },
    "desk_file_not_kept": {
        "ru": "Файл «{name}» не удалось сохранить на сервере, и клиенту ничего не отправлено. "
        "Попробуйте ещё раз.",
        "en": "The file “{name}” could not be kept on the server; nothing was sent to the "
        "client. Try again.",
    },
    "desk_macro_full": {
        "ru": "Шаблонов уже {limit}: удалите ненужные.",
        "en": "There are {limit} saved replies already: remove some first.",
    },
    "desk_macro_not_yours": {
        "ru": "Шаблон #{macro_id} не ваш или уже удалён.",
        "en": "Saved reply #{macro_id} is not yours or is gone.",
    },
    "desk_not_found": {
        "ru": "Разговор #{conversation_id} не найден.",
        "en": "Conversation #{conversation_id} not found.",
    },
    "desk_taken": {
        "ru": "Разговор #{conversation_id} уже взял(а) {holder}.",
        "en": "Conversation #{conversation_id} was already taken by {holder}.",
    },
    "desk_not_queued": {
        "ru": "Разговор #{conversation_id} не ждёт в очереди.",
        "en": "Conversation #{conversation_id} is not waiting in the queue.",
    },
    "desk_not_yours": {
        "ru": "Разговор #{conversation_id} ведёт другой оператор. Сначала возьмите его.",
        "en": "Conversation #{conversation_id} is handled by another operator. Take it first.",
    },
    "desk_over_capacity": {
        "ru": "У вас уже {capacity} активных разговоров — закройте один, чтобы взять новый.",
        "en": "You already have {capacity} active conversations: close one to take another.",
    },
    "desk_closed": {
        "ru": "Разговор #{conversation_id} уже закрыт.",
        "en": "Conversation #{conversation_id} is already closed.",
    },
    "desk_empty_reply": {"ru": "Пустой ответ не отправлен.", "en": "An empty reply was not sent."},
    "desk_not_resendable": {
        "ru": "Это сообщение не ждёт повторной отправки: оно доставлено или уже отправляется.",
        "en": "This message is not waiting to be sent again: it was delivered or is being sent.",
    },
    "desk_transfer_target": {
        "ru": "Укажите группу или оператора для передачи.",
        "en": "Name a group or an operator to transfer to.",
    },
    "desk_bad_group": {
        "ru": "Нет такой группы (или её никто не обслуживает): {group}.",
        "en": "No such group (or no one serves it): {group}.",
    },
    "desk_bad_category": {
        "ru": "Нет такой категории: {category}.",
        "en": "No such category: {category}.",
    },
    "desk_transfer_self": {
        "ru": "Разговор #{conversation_id} и так у вас.",
        "en": "Conversation #{conversation_id} is yours already.",
    },
    "desk_operator_unknown": {
        "ru": "Оператор «{name}» не найден.",
        "en": "Operator “{name}” not found.",
    },
    "desk_admin_only": {
        "ru": "Это может сделать только администратор.",
        "en": "Only an admin can do this.",
    },
    "desk_operator_unavailable": {
        "ru": "Оператор {name} сейчас не в сети.",
        "en": "Operator {name} is offline now.",
    },
    "desk_operator_full": {
        "ru": "У оператора {name} нет свободных мест ({capacity}).",
        "en": "Operator {name} has no free slots ({capacity}).",
    },
    "desk_no_reply_to_save": {
        "ru": "В разговоре #{conversation_id} ещё нет вашего ответа клиенту.",
        "en": "You have not answered the client in conversation #{conversation_id} yet.",
    },
    "desk_article_unknown": {
        "ru": "Статья «{article_id}» не найдена.",
        "en": "Article “{article_id}” not found.",
    },
    "desk_no_channel": {
        "ru": "Клиент не писал через канал {channel}.",
        "en": "The client has not written through {channel}.",
    },
    "too_many_answers": {
        "ru": "Мы получили ваше письмо, оператор ответит.",
        "en": "We have received your letter; an operator will answer.",
    },
    # -- one client across channels (identity/: the proofs, hints and merges) --
    "channel_telegram": {"ru": "Telegram", "en": "Telegram"},
    "channel_vk": {"ru": "ВКонтакте", "en": "VK"},
    "channel_email": {"ru": "почта", "en": "email"},
    "channel_web": {"ru": "чат на сайте", "en": "web chat"},
    "link_code_issued": {
        "ru": "Ваш код для связи: {code}\n\nНапишите его в течение {minutes} мин. в другом нашем канале — "
        "Telegram-боту, сообществу ВКонтакте, письмом в поддержку или в чате на сайте. Так мы "
        "поймём, что это вы, и объединим историю ваших обращений. Никому не сообщайте этот код.",
        "en": "Your link code: {code}\n\nWithin {minutes} min, send it to us in another channel: our "
        "Telegram bot, VK community, a letter to support, or the chat on our website. That tells "
        "us it's you, and we'll join the history of your requests. Don't share this code with anyone.",
    },
    "link_done": {
        "ru": "Готово: этот чат связан с вашими обращениями из канала «{channel}». Оператор видит всю "
        "историю, а ответ придёт туда, откуда вы написали последним.",
        "en": "Done: this chat is now linked with your requests from {channel}. The operator sees the whole "
        "history, and answers come to wherever you wrote last.",
    },
    "link_notice": {
        "ru": "Ваш код для связи использован: к вашим обращениям подключён канал «{channel}». Если это "
        "были не вы, напишите «оператор».",
        "en": "Your link code was used: {channel} is now linked with your requests. If that wasn't you, "
        'write "operator".',
    },
    "link_same_chat": {
        "ru": "Этот код нужно отправить в другом канале — туда, откуда вы тоже пишете нам.",
        "en": "Send this code in another channel: the one you also write to us from.",
    },
    "link_already": {
        "ru": "Эти чаты уже связаны, больше ничего делать не нужно.",
        "en": "These chats are already linked; nothing more to do.",
    },
    "link_code_wrong": {
        "ru": "Такого кода нет. Проверьте его и попробуйте ещё раз (осталось попыток: {left}).",
        "en": "That code doesn't exist. Check it and try again ({left} tries left).",
    },
    "link_code_expired": {
        "ru": "Срок действия кода истёк. Получите новый: напишите «связать» или /link там, где получили прошлый.",
        "en": "That code has expired. Get a new one: write /link where you got the last one.",
    },
    "link_code_used": {
        "ru": "Этот код уже использован. Если нужно связать ещё один канал, получите новый: «связать» или /link.",
        "en": "That code has already been used. To link another channel, get a new one with /link.",
    },
    "slow_down": {
        "ru": "Вы пишете очень быстро — я не успеваю. Подождите, пожалуйста, {seconds} с и отправьте снова.",
        "en": "You're writing faster than I can keep up. Please wait {seconds} s and send it again.",
    },
    "code_requests_limit": {
        "ru": "Коды запрашивались слишком часто. Попробуйте снова через несколько минут.",
        "en": "Codes have been asked for too often. Please try again in a few minutes.",
    },
    "link_email_unproven": {
        "ru": "Код пришёл письмом с адреса {address}, но почтовый сервер не подтвердил, что письмо "
        "действительно отправлено с него. Я отправил на {address} код из 6 цифр — напишите "
        "его здесь в течение {minutes} мин., и почта будет связана с этим чатом.",
        "en": "The code came in a letter from {address}, but the mail server did not confirm that the "
        "letter really came from that address. I've mailed a 6-digit code to {address}: type it "
        "here within {minutes} min. to link that mailbox to this chat.",
    },
    "reply_to_note": {
        "ru": "Внимание: письмо отправлено с {address}, но просит отвечать на {reply_to} (Reply-To). "
        "Ответы на это письмо уйдут на {reply_to}; адрес клиента остаётся {address}.",
        "en": "Note: the letter was sent from {address} but asks for answers at {reply_to} (Reply-To). "
        "Answers to this letter go to {reply_to}; the client's address stays {address}.",
    },
    "code_blocked": {
        "ru": "Слишком много неверных кодов. Попробуйте снова через {minutes} мин.",
        "en": "Too many wrong codes. Please try again in {minutes} min.",
    },
    "email_offer": {
        "ru": "Это ваш адрес {address}? Могу отправить на него код подтверждения — тогда письма с этого "
        "адреса попадут в историю ваших обращений. Ответьте «да» или нажмите кнопку.",
        "en": "Is {address} your address? I can mail a confirmation code to it, so that letters from it join "
        'the history of your requests. Reply "yes" or press the button.',
    },
    "button_verify_email": {"ru": "Отправить код", "en": "Send the code"},
    "email_offer_dropped": {"ru": "Хорошо, не отправляю.", "en": "All right, I won't send it."},
    "email_offer_gone": {
        "ru": "Напишите, пожалуйста, адрес почты ещё раз — и я отправлю на него код.",
        "en": "Please type the email address again and I'll send a code to it.",
    },
    "email_code_sent": {
        "ru": "Отправил код на {address}. Напишите его сюда в течение {minutes} мин.",
        "en": "I've sent a code to {address}. Type it here within {minutes} min.",
    },
    "email_code_limit": {
        "ru": "Код уже отправлялся несколько раз. Попробуйте через час или напишите «оператор».",
        "en": 'The code has been sent several times already. Try again in an hour, or write "operator".',
    },
    "email_letter_subject": {"ru": "Код подтверждения адреса", "en": "Your confirmation code"},
    "email_letter": {
        "ru": "Здравствуйте!\n\nКод подтверждения адреса: {code}\n\nНапишите его в чате поддержки "
        "(«{channel}»), где вы указали этот адрес. Код действует {minutes} мин.\n\nЕсли вы ничего "
        "не запрашивали, просто не отвечайте на это письмо.",
        "en": "Hello!\n\nYour address confirmation code: {code}\n\nType it in the support chat ({channel}) "
        "where you gave this address. The code is valid for {minutes} min.\n\nIf you didn't ask for "
        "it, simply ignore this letter.",
    },
    "email_verified": {
        "ru": "Адрес {address} подтверждён. Письма с него попадут в историю ваших обращений.",
        "en": "{address} is confirmed. Letters from it will join the history of your requests.",
    },
    "email_already_verified": {
        "ru": "Адрес {address} уже подтверждён.",
        "en": "{address} is already confirmed.",
    },
    "email_code_wrong": {
        "ru": "Код неверный. Осталось попыток: {left}.",
        "en": "Wrong code. {left} tries left.",
    },
    "email_code_void": {
        "ru": "Слишком много неверных попыток, код больше не действует. Чтобы получить новый, напишите "
        "адрес ещё раз.",
        "en": "Too many wrong tries: the code no longer works. To get a new one, type the address again.",
    },
    "email_code_expired": {
        "ru": "Срок действия кода истёк. Чтобы получить новый, напишите адрес почты ещё раз.",
        "en": "That code has expired. To get a new one, type the email address again.",
    },
    "email_code_used": {
        "ru": "Этот код уже использован — адрес подтверждён.",
        "en": "That code has already been used: the address is confirmed.",
    },
    "phone_saved": {
        "ru": "Спасибо, номер {phone} сохранили.",
        "en": "Thank you, we've saved {phone}.",
    },
    "phone_recognised": {
        "ru": "Спасибо! Мы узнали вас по номеру {phone}: история ваших обращений теперь в одном месте.",
        "en": "Thank you! We recognised you by {phone}: the history of your requests is now in one place.",
    },
    "phone_unreadable": {
        "ru": "Не получилось прочитать номер. Напишите, пожалуйста, ваш вопрос.",
        "en": "I couldn't read that number. Please type your question.",
    },
    "hint_email": {"ru": "почта", "en": "email"},
    "hint_phone": {"ru": "телефон", "en": "phone"},
    "hint_note": {
        "ru": "Возможно, это тот же клиент, что {client_ids} (совпадает {reason}: {value}). Это лишь "
        "подсказка: объединяйте только по подтверждению (код связи, код на почту) или вручную.",
        "en": "Possibly the same person as client {client_ids} (same {reason}: {value}). Only a hint: merge "
        "on proof (a link code, an email code) or by hand.",
    },
    "merge_note": {
        "ru": "Клиент #{merged} объединён с #{survivor} ({reason}); разговоры {absorbed} влиты в этот.",
        "en": "Client #{merged} merged into #{survivor} ({reason}); conversations {absorbed} joined this one.",
    },
    "merge_same_client": {
        "ru": "Это один и тот же клиент #{client_id}.",
        "en": "That is the same client #{client_id}.",
    },
    "merge_client_gone": {
        "ru": "Клиент #{client_id} уже объединён с #{into}.",
        "en": "Client #{client_id} was already merged into #{into}.",
    },
    "client_not_found": {
        "ru": "Клиент #{client_id} не найден.",
        "en": "Client #{client_id} not found.",
    },
    "merge_not_found": {
        "ru": "Объединение #{record_id} не найдено.",
        "en": "Merge #{record_id} not found.",
    },
    "merge_already_undone": {
        "ru": "Объединение #{record_id} уже отменено.",
        "en": "Merge #{record_id} has already been undone.",
    },
    "search_short": {
        "ru": "Введите хотя бы два символа.",
        "en": "Type at least two characters.",
    },
    "search_long": {
        "ru": "Слишком длинный запрос: не больше 200 символов.",
        "en": "The query is too long: 200 characters at most.",
    },
    "forget_close_first": {
        "ru": "Сначала закройте разговоры клиента: {conversations}.",
        "en": "Close the client's conversations first: {conversations}.",
    },
    "merge_undo_later_first": {
        "ru": "Сначала отмените более позднее объединение #{later} с этими клиентами, потом #{record_id}.",
        "en": "Undo the later merge #{later} of these clients first, then #{record_id}.",
    },
}


def say(key: str, language: str | None, **values: object) -> str:
    return choose(TEXTS[key], language, **values)


class Refusal(Exception):
    """A request that cannot be done, said by a text key (and its values) so that each
    reader gets it in their language (`text`); the exception's message is the English."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(say(key, "en", **values))
        self.key = key
        self.values = values

    def text(self, language: str | None) -> str:
        return say(self.key, language, **self.values)


def choose(variants: dict[str, str], language: str | None, **values: object) -> str:
    """The text in `language` (Russian when there is none), with `values` filled in."""
    text = variants.get(language or "ru", variants["ru"])
    return text.format(**values) if values else text


def locale_language(locale: str | None) -> str | None:
    """'ru' or 'en' from a platform locale such as 'en-US' or 'ru'; None for others."""
    code = (locale or "").split("-")[0].split("_")[0].lower()
    return code if code in ("ru", "en") else None
