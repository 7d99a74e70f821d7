// Switchboard operator console: a thin page over the /operator/ws command socket.
"use strict";

(() => {
  const TEXTS = {
    ru: {
      login_intro: "Консоль оператора", name: "Логин", password: "Пароль", sign_in: "Войти", sign_out: "Выйти",
      view_waiting: "Ожидают", view_mine: "Мои", view_breaching: "Горят", take_next: "Взять следующий",
      col_client: "Клиент", col_channel: "Канал", col_category: "Категория", col_waited: "Ждёт",
      col_deadline: "Срок", col_preview: "Последнее сообщение", queue_empty: "Очередь пуста",
      mine_empty: "У вас нет разговоров", breaching_empty: "Ничего не горит",
      pick: "Выберите разговор в очереди или возьмите следующий.", take: "Взять", open: "Открыть", close: "Закрыть",
      note: "Заметка", reply: "Ответить", hint: "Ctrl+Enter — отправить", reply_placeholder: "Ответ клиенту…",
      attach: "Файл", remove_file: "Убрать файл", file_too_big: "Файл «{name}» больше {max} МБ.",
      file_failed: "Файл «{name}» не загружен: {error}",
      not_yours: "Возьмите разговор, чтобы ответить.",
      online: "на связи", connecting: "подключение…", offline: "нет связи",
      client: "Клиент", bot: "Бот", operator: "Оператор", system: "Система", private: "Заметка",
      undelivered: "не доставлено", resend: "Отправить ещё раз", action_handoff: "нажал(а) «Позвать оператора»",
      fault_recipient: "клиент не может его получить: бот заблокирован, чат или адрес больше не существует",
      fault_content: "платформа не приняла само сообщение (слишком длинное или в неподходящем формате)",
      fault_file: "приложенный файл не найден, не читается или слишком велик",
      fault_configuration: "канал не настроен или отклонил токен или доступ: нужен администратор",
      fault_unreachable: "платформа не приняла его вовремя (сеть, сбой или ограничение частоты)",
      action_choose: "выбрал(а) вариант из предложенных", action_rate: "поставил(а) оценку",
      action_start: "начал(а) диалог", action_contact: "поделился(-ась) номером телефона",
      action_resolved: "нажал(а) «Вопрос решён»",
      status_bot: "бот", status_queued: "в очереди", status_assigned: "в работе", status_closed: "закрыт",
      in: "через {t}", overdue: "просрочен на {t}", new_message: "Новое сообщение в разговоре #{id}",
      undelivered_toast: "Сообщение в разговоре #{id} не доставлено: {error}",
      channel_fault_toast: "Канал «{channel}» не принимает ответы: канал не настроен или отклонил токен или доступ. Исправьте настройки канала; недоставленные ответы можно будет отправить ещё раз.",
      closed_toast: "Разговор #{id} закрыт",
      quarantined_toast: "Сообщение в разговоре #{id} не удалось обработать автоматически; разговор передан операторам: {error}",
      unauthorized: "Войдите, чтобы продолжить.", wrong_password: "Неверный логин или пароль.",
      throttled: "Слишком много неудачных попыток. Попробуйте через {s} с.", disabled: "Этот оператор отключён.",
      bad_json: "Сервер не понял команду.", bad_request: "Неверная команда.", unknown_cmd: "Неизвестная команда.",
      failed: "Команда не выполнена из-за ошибки сервера.", confirm_close: "Закрыть разговор #{id}?",
      priority: "приоритет {p}", min: " мин", h: " ч", d: " д", conversation: "Разговор",
      from_kb: "Из базы знаний:", macros: "Шаблоны…", macro_save: "+ Шаблон", macro_title: "Название шаблона:",
      macro_shared: "Сохранить для всех операторов? (Отмена — только для вас)", macro_desk: "Для всех", macro_mine: "Мои", reports: "Отчёты", team: "Команда", visitor: "Посетитель №{n}", back: "← Очередь", waited: "ждёт {t}",
      erased: "Слова и файлы разговора стёрты {at}: остались только цифры для отчётов.",
      closed_rated: "Разговор закрыт. Оценка клиента:", closed_waiting: "Разговор закрыт. Клиент ещё не поставил оценку.",
      closed_by_client: "Клиент снял вопрос с очереди: ответ бота ему подошёл или помощь больше не нужна.",
      closed_email: "Разговор закрыт. Оценку клиент пришлёт ответом на письмо.",
      held_by_other: "Разговор ведёт другой оператор.", whole_letter: "Показать письмо целиком",
      fresh_only: "Скрыть цитаты и подпись", conversation_closed_at: "Разговор #{id} закрыт {at}",
      ch_telegram: "Telegram", ch_vk: "ВКонтакте", ch_email: "Почта", ch_web: "Веб-чат",
      keys: "Alt+N — взять следующий · Alt+T — взять · Alt+C — закрыть · Ctrl+Enter — отправить",
      card: "Клиент", search_placeholder: "Поиск: имя, почта, телефон, id, текст…", search_clients: "Клиенты",
      search_messages: "Сообщения", search_none: "Ничего не найдено", search_more: "Показаны первые {n}; уточните запрос",
      client_since: "клиент №{id} с {date}", channels: "Каналы", conversations: "Разговоры", notes: "Заметки",
      merges: "Объединения", hints: "Возможно, тот же человек", no_notes: "Заметок нет",
      proof_platform: "аккаунт мессенджера", proof_cookie: "только этот браузер", proof_email_code: "почта подтверждена кодом",
      proof_from_header: "адрес из письма, не подтверждён", proved: "подтверждён", not_proved: "не подтверждён",
      phone_proved: "номер подтверждён Telegram", joined: "присоединён {at}: {reason}", by: "оператор {name}",
      reason_operator: "вручную", reason_link_code: "код связи", reason_email_code: "код на почту", reason_phone: "номер телефона",
      merge_line: "#{merged} → #{survivor} · {reason} · {at}", undone: "отменено {at}", undo: "Отменить",
      merge: "Объединить", merge_with: "Номер клиента", merge_hint: "#{id}: совпадает {what} {value}",
      hint_email: "почта", hint_phone: "телефон", confirm_merge: "Влить клиента #{other} в #{id}? Его каналы и разговоры перейдут сюда.",
      confirm_undo: "Отменить объединение #{id}?", merged_done: "Клиенты объединены", undone_done: "Объединение отменено",
      export: "Выгрузить данные", forget: "Забыть клиента", confirm_forget: "Забыть клиента #{id} навсегда? Сообщения и файлы всех его разговоров, имена, телефон и почта будут стёрты; останутся только цифры для отчётов.",
      forgotten_done: "Клиент #{id} забыт. Разговоров: {conversations}, стёрто сообщений: {messages}.",
      merged_into: "Клиент #{asked} объединён с этим", current: "открыт", tier_vip: "VIP", card_failed: "Карточка клиента не загрузилась",
      presence_online: "Принимаю разговоры", presence_away: "Отошёл(ла)", presence_offline: "Не в сети",
      category_choice: "Категория разговора", transfer: "Передать…", transfer_title: "Передать разговор #{id}", transfer_groups: "В очередь группы",
      transfer_colleagues: "Коллеге", transfer_note: "Заметка для коллеги (видят только операторы)", cancel: "Отмена",
      transfer_go: "Передать", transferred: "Разговор #{id} передан: {to}",
      transfer_nobody: "Передать некому: нет других операторов и групп.", current_group: "сейчас здесь",
      p_online: "принимает", p_away: "отошёл(ла)", p_offline: "не в сети", holds: "{n} из {cap}",
      new_in_queue: "Новый разговор #{id} в очереди {group}", given_to_you: "Вам передан разговор #{id}",
      mentioned_you: "{name} упоминает вас в разговоре #{id}: {note}", mention_told: "Заметку увидят: {names}",
      notify: "Уведомления", notify_title: "Показывать уведомления, когда консоль в фоне",
      via: "→ {channel}", via_title: "Канал ответа: клиент писал и отсюда",
      kb_search: "Найти в базе знаний…", kb_found: "Нашлось:", kb_nothing: "В базе знаний ничего не нашлось",
      kb_save: "В базу", kb_save_confirm: "Сохранить ваш последний ответ в базе знаний как новую статью? Вопрос клиента перед ним станет её первым вариантом, и бот будет отвечать так сам.",
      kb_teach: "Добавить последний вопрос клиента к статье «{title}» как ещё один вариант?",
      kb_created: "Статья {id} создана из вашего ответа: бот теперь отвечает так сам.", kb_added: "Вопрос «{question}» добавлен к статье {id}.",
    },
    en: {
      login_intro: "Operator console", name: "Login", password: "Password", sign_in: "Sign in", sign_out: "Sign out",
      view_waiting: "Waiting", view_mine: "Mine", view_breaching: "Breaching", take_next: "Take next",
      col_client: "Client", col_channel: "Channel", col_category: "Category", col_waited: "Waited",
      col_deadline: "Deadline", col_preview: "Last message", queue_empty: "The queue is empty",
      mine_empty: "You hold no conversations", breaching_empty: "Nothing is about to breach",
      pick: "Pick a conversation in the queue or take the next one.", take: "Take", open: "Open", close: "Close",
      note: "Note", reply: "Reply", hint: "Ctrl+Enter to send", reply_placeholder: "Reply to the client…",
      attach: "File", remove_file: "Remove the file", file_too_big: "“{name}” is over {max} MB.",
      file_failed: "“{name}” was not uploaded: {error}",
      not_yours: "Take the conversation to reply.",
      online: "online", connecting: "connecting…", offline: "offline",
      client: "Client", bot: "Bot", operator: "Operator", system: "System", private: "Note",
      undelivered: "undelivered", resend: "Send again", action_handoff: "pressed “Talk to a person”",
      fault_recipient: "the client cannot receive it: the bot is blocked, or the chat or address is gone",
      fault_content: "the platform refused the message itself (too long, or in a format it does not take)",
      fault_file: "a file it carries is missing, unreadable or too big",
      fault_configuration: "the channel is not configured, or refused its token or access: an administrator is needed",
      fault_unreachable: "the platform did not take it in time (network, outage or rate limit)",
      action_choose: "picked one of the offered options", action_rate: "rated the help",
      action_start: "started the chat", action_contact: "shared their phone number",
      action_resolved: "pressed “Question solved”",
      status_bot: "bot", status_queued: "queued", status_assigned: "assigned", status_closed: "closed",
      in: "in {t}", overdue: "overdue by {t}", new_message: "New message in conversation #{id}",
      undelivered_toast: "A message in conversation #{id} was not delivered: {error}",
      channel_fault_toast: "The “{channel}” channel refuses replies: it is not configured, or refused its token or access. Fix the channel's settings; undelivered replies can then be sent again.",
      closed_toast: "Conversation #{id} closed",
      quarantined_toast: "A message in conversation #{id} could not be processed automatically; the conversation is with the operators: {error}",
      unauthorized: "Sign in to continue.", wrong_password: "Wrong login or password.",
      throttled: "Too many failed attempts. Try again in {s} s.", disabled: "This operator is disabled.",
      bad_json: "The server did not understand the command.", bad_request: "Invalid command.", unknown_cmd: "Unknown command.",
      failed: "The command failed on the server.", confirm_close: "Close conversation #{id}?",
      priority: "priority {p}", min: "m", h: "h", d: "d", conversation: "Conversation",
      from_kb: "From the knowledge base:", macros: "Saved replies…", macro_save: "+ Save reply", macro_title: "A title for the saved reply:",
      macro_shared: "Save it for every operator? (Cancel: for you only)", macro_desk: "For everyone", macro_mine: "Mine", reports: "Reports", team: "Team", visitor: "Visitor #{n}", back: "← Queue", waited: "waiting {t}",
      erased: "The conversation's words and files were erased on {at}: only the figures for reports stay.",
      closed_rated: "Conversation closed. The client's rating:", closed_waiting: "Conversation closed. The client has not rated it yet.",
      closed_by_client: "The client took the question off the queue: the bot's answer did, or no help is needed any more.",
      closed_email: "Conversation closed. The client rates it by replying to the letter.",
      held_by_other: "Another operator is handling this conversation.", whole_letter: "Show the whole letter",
      fresh_only: "Hide quotes and signature", conversation_closed_at: "Conversation #{id} closed {at}",
      ch_telegram: "Telegram", ch_vk: "VK", ch_email: "Email", ch_web: "Web chat",
      keys: "Alt+N take next · Alt+T take · Alt+C close · Ctrl+Enter send",
      card: "Client", search_placeholder: "Search: name, email, phone, id, words…", search_clients: "Clients",
      search_messages: "Messages", search_none: "Nothing found", search_more: "The first {n} are shown; narrow the query",
      client_since: "client #{id} since {date}", channels: "Channels", conversations: "Conversations", notes: "Notes",
      merges: "Merges", hints: "Possibly the same person", no_notes: "No notes",
      proof_platform: "messenger account", proof_cookie: "this browser only", proof_email_code: "address confirmed by a code",
      proof_from_header: "address from a letter, not proved", proved: "proved", not_proved: "not proved",
      phone_proved: "number proved by Telegram", joined: "joined {at}: {reason}", by: "operator {name}",
      reason_operator: "by hand", reason_link_code: "link code", reason_email_code: "email code", reason_phone: "phone number",
      merge_line: "#{merged} → #{survivor} · {reason} · {at}", undone: "undone {at}", undo: "Undo",
      merge: "Merge", merge_with: "Client number", merge_hint: "#{id}: same {what} {value}",
      hint_email: "email", hint_phone: "phone", confirm_merge: "Merge client #{other} into #{id}? Their channels and conversations move here.",
      confirm_undo: "Undo merge #{id}?", merged_done: "The clients were merged", undone_done: "The merge was undone",
      export: "Export data", forget: "Forget this client", confirm_forget: "Forget client #{id} for good? The messages and files of all their conversations, their names, phone and email are erased; only the figures for reports stay.",
      forgotten_done: "Client #{id} forgotten. Conversations: {conversations}, messages erased: {messages}.",
      merged_into: "Client #{asked} was merged into this one", current: "open", tier_vip: "VIP", card_failed: "The client card did not load",
      presence_online: "Available", presence_away: "Away", presence_offline: "Offline",
      category_choice: "The conversation's category", transfer: "Transfer…", transfer_title: "Transfer conversation #{id}", transfer_groups: "To a group's queue",
      transfer_colleagues: "To a colleague", transfer_note: "A note for the colleague (operators only)", cancel: "Cancel",
      transfer_go: "Transfer", transferred: "Conversation #{id} transferred: {to}",
      transfer_nobody: "No one to transfer to: no other operators or groups.", current_group: "here now",
      p_online: "available", p_away: "away", p_offline: "offline", holds: "{n} of {cap}",
      new_in_queue: "New conversation #{id} waiting in {group}", given_to_you: "Conversation #{id} is yours",
      mentioned_you: "{name} mentions you in conversation #{id}: {note}", mention_told: "The note was sent to: {names}",
      notify: "Notifications", notify_title: "Show notifications while the console is in the background",
      via: "via {channel}", via_title: "The channel to answer in: the client has written from each",
      kb_search: "Search the knowledge base…", kb_found: "Found:", kb_nothing: "Nothing found in the knowledge base",
      kb_save: "To the KB", kb_save_confirm: "Save your last reply in the knowledge base as a new article? The client's question before it becomes its first variant, and the bot will answer so itself.",
      kb_teach: "Add the client's last question to the article “{title}” as one more variant?",
      kb_created: "Article {id} was made from your reply: the bot now answers so itself.", kb_added: "The question “{question}” was added to article {id}.",
    },
  };
  const lang = (navigator.languages || [navigator.language || "ru"])
    .some((l) => String(l).toLowerCase().startsWith("ru")) ? "ru" : "en";
  const t = (key, values = {}) =>
    (TEXTS[lang][key] || key).replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : `{${k}}`));
  // Why a message was not delivered (a DeliveryFault), in the operator's words.
  const faultText = (fault) => (fault && TEXTS[lang][`fault_${fault}`]) || "";
  const undeliveredWhy = (fault) => [t("undelivered"), faultText(fault)].filter(Boolean).join(": ");
  // An operator's undelivered reply can be sent again by its holder once the cause is gone.
  function undelivered(m, holding) {
    const line = el("div", "failed");
    line.append(el("span", null, undeliveredWhy(m.delivery_fault)));
    if (holding && m.author === "operator") {
      const again = el("button", "small resend", t("resend"));
      again.type = "button";
      again.addEventListener("click", () => { again.disabled = true; command({ cmd: "resend", message_id: m.id }); });
      line.append(again);
    }
    return line;
  }
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };
  // Icons are drawn, not typed: an emoji needs a colour font that many Linux desks lack.
  const ICONS = {
    clip: "M21 11.5l-8.6 8.6a5.5 5.5 0 0 1-7.8-7.8l8.6-8.6a3.7 3.7 0 0 1 5.2 5.2l-8.6 8.6a1.8 1.8 0 0 1-2.6-2.6l7.9-7.9",
    book: "M3 5h6a3 3 0 0 1 3 3v12a2 2 0 0 0-2-2H3zM21 5h-6a3 3 0 0 0-3 3v12a2 2 0 0 1 2-2h7z",
    bell: "M6 9a6 6 0 0 1 12 0c0 6 2.5 8 2.5 8h-17S6 15 6 9M10.3 20a2 2 0 0 0 3.4 0",
  };
  const icon = (name) => {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  };
  const withIcon = (tag, cls, name, text) => {
    const node = el(tag, cls);
    node.append(icon(name), text);
    return node;
  };
  const REFUSED = new Set([4401, 4403]);

  const PICTURES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);   // shown in the thread
  let maxFile = 0, outgoing = [];   // the largest file the server takes; files for the next reply
  let categories = [];   // the desk's categories ({name, title}), for the holder to set
  const categoryTitle = (name) => (categories.find((c) => c.name === name) || { title: name }).title;
  let socket = null, attempt = 0, me = null, view = "waiting", rows = [], conversation = null, skew = 0;
  let toastTimer = null, wantOpen = null, draft = "", card = null, hitMessage = null;
  const openLetters = new Set();

  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });
  document.querySelectorAll("[data-icon]").forEach((node) => node.prepend(icon(node.dataset.icon)));
  document.querySelectorAll("[data-t-placeholder]").forEach((node) => { node.placeholder = t(node.dataset.tPlaceholder); });

  // -- formatting ------------------------------------------------------------------------
  const now = () => Date.now() + skew;
  function span(ms) {
    const m = Math.max(0, Math.round(ms / 60000));
    if (m < 60) return `${m}${t("min")}`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h}${t("h")} ${String(m % 60).padStart(2, "0")}${t("min")}`;
    return `${Math.floor(h / 24)}${t("d")} ${h % 24}${t("h")}`;
  }
  function deadlineCell(iso, compact = false) {
    const left = new Date(iso).getTime() - now();
    const full = left < 0 ? t("overdue", { t: span(-left) }) : t("in", { t: span(left) });
    const node = el("span", "deadline", compact ? (left < 0 ? `−${span(-left)}` : span(left)) : full);
    if (compact) node.setAttribute("aria-label", full);
    if (left < 0) node.classList.add("over"); else if (left < 15 * 60000) node.classList.add("soon");
    node.title = `${full} · ${new Date(iso).toLocaleString(lang)}`;
    return node;
  }
  const chan = (name) => el("span", `chan ${name}`, TEXTS[lang][`ch_${name}`] || name);
  const COLOURS = ["#2563eb", "#7c3aed", "#db2777", "#ea580c", "#059669", "#0891b2", "#4f46e5", "#b45309"];
  // who the client is: their name, or "Visitor #N" with a colour of their own to tell them apart
  function clientName(item) {
    return item.anonymous ? t("visitor", { n: item.client_id }) : item.client_name;
  }
  function clientBadge(item) {
    const name = clientName(item);
    const wrap = el("span", item.anonymous ? "anon" : null);
    const avatar = el("span", "avatar", (name.trim()[0] || "?").toUpperCase());
    avatar.style.background = COLOURS[item.client_id % COLOURS.length];
    wrap.append(avatar, document.createTextNode(name));
    return wrap;
  }
  const clock = (iso) => new Date(iso).toLocaleString(lang, { hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit" });

  function toast(text, error = false) {
    const box = $("toast");
    box.textContent = text;
    box.className = error ? "toast error" : "toast";
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  // -- the queue -------------------------------------------------------------------------
  function renderQueue() {
    const body = $("queue-rows");
    body.replaceChildren();
    for (const row of rows) {
      const tr = el("tr", `p${row.priority}`);
      tr.dataset.id = row.conversation_id;
      if (conversation && conversation.id === row.conversation_id) tr.classList.add("selected");
      tr.append(el("td", "pos col-pos", row.position));
      const who = el("td", "col-client");
      const name = el("div", "who");
      name.append(clientBadge(row));
      name.title = `${clientName(row)} · #${row.conversation_id}`;
      const line2 = el("div", "line2");
      line2.append(chan(row.channel), " ");
      if (row.category) line2.append(el("span", "cat", categoryTitle(row.category)), " ");
      if (row.preview_action) line2.append(el("span", "action", t(`action_${row.preview_action}`)), " ");
      line2.append(row.preview_action && row.preview ? `· ${row.preview}` : row.preview);
      line2.title = row.preview;
      who.append(name, line2);
      tr.append(who);
      const deadline = el("td", "col-time");
      deadline.append(deadlineCell(row.deadline, true), el("span", "waited", t("waited", { t: span(now() - row.arrived) })));
      tr.append(deadline);
      const action = el("td", "col-action");
      const mine = row.status === "assigned";
      const button = el("button", mine ? "secondary" : "primary", t(mine ? "open" : "take"));
      button.type = "button";
      button.addEventListener("click", (event) => {
        event.stopPropagation();
        command({ cmd: mine ? "open" : "take", conversation_id: row.conversation_id });
      });
      action.append(button);
      tr.append(action);
      tr.addEventListener("click", () => command({ cmd: "open", conversation_id: row.conversation_id }));
      body.append(tr);
    }
    $("queue-empty").hidden = rows.length > 0;
    $("queue-empty").textContent = t({ waiting: "queue_empty", mine: "mine_empty", breaching: "breaching_empty" }[view]);
    document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  }

  // -- the conversation ------------------------------------------------------------------
  // The holder corrects the bot's guess of what the conversation is about (reports count by it).
  function categoryChoice(c) {
    const choice = el("select", "category");
    choice.id = "conv-category";
    choice.title = t("category_choice");
    choice.setAttribute("aria-label", t("category_choice"));
    const known = categories.some((k) => k.name === c.category);
    const listed = c.category && !known ? [{ name: c.category, title: c.category }, ...categories] : categories;
    if (!c.category) choice.append(el("option", null, "—"));
    for (const { name, title } of listed) {
      const option = el("option", null, title);
      option.value = name;
      choice.append(option);
    }
    choice.value = c.category || "—";
    choice.addEventListener("change", () => {
      command({ cmd: "category", conversation_id: c.id, category: choice.value });
      choice.value = c.category || "—";   // until the desk's answer shows the new one
    });
    return choice;
  }
  function renderConversation() {
    if (!conversation) { $("conversation-body").hidden = true; $("placeholder").hidden = false; return; }
    $("placeholder").hidden = true;
    $("conversation-body").hidden = false;
    const c = conversation;
    $("conv-title").textContent = `${t("conversation")} #${c.id}`;
    const meta = $("conv-meta");
    const who = el("strong");
    who.append(clientBadge(c));
    meta.replaceChildren(el("span", `status-pill ${c.status}`, t(`status_${c.status}`)), who, chan(c.channel));
    const holding = c.mine && c.status === "assigned";
    if ((holding || me.role === "admin") && categories.length) meta.append(categoryChoice(c));
    else if (c.category) meta.append(el("span", null, categoryTitle(c.category)));
    if (c.group && c.group !== c.category) meta.append(el("span", null, c.group));   // "fraud fraud" said once
    meta.append(el("span", null, t("priority", { p: c.priority })));
    if (c.deadline && c.status !== "closed") meta.append(deadlineCell(c.deadline));
    if (c.subject) meta.append(el("span", null, `“${c.subject}”`));
    const closed = c.status === "closed";
    $("conv-take").hidden = c.status !== "queued";
    $("conv-close").hidden = !holding;
    $("conv-transfer").hidden = !holding;
    $("kb-save").hidden = !holding || !c.messages.some((m) => m.author === "operator" && !m.private);
    $("send-reply").disabled = !holding;
    $("reply").hidden = closed;
    $("reply-text").placeholder = holding ? t("reply_placeholder")
      : c.status === "assigned" ? t("held_by_other") : t("not_yours");
    const bar = $("closed-bar");
    bar.hidden = !closed;
    if (closed) {
      bar.replaceChildren();
      if (c.rating) {
        bar.append(el("span", null, t("closed_rated")), el("span", "stars", "★".repeat(c.rating) + "☆".repeat(5 - c.rating)),
          el("strong", "rating", `${c.rating}/5`));
      } else if (c.closed_by === "client") {
        bar.append(el("span", "muted", t("closed_by_client")));
      } else {
        bar.append(el("span", "muted", t(c.channel === "email" ? "closed_email" : "closed_waiting")));
      }
      if (c.erased_at) bar.append(el("div", "erased muted", t("erased", { at: day(c.erased_at) })));
    }

    renderSuggestions(c, holding);
    renderVia(c, holding);
    const thread = $("thread");
    const atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
    const kept = thread.scrollTop;
    thread.replaceChildren();
    let previous = null;
    for (const m of c.messages) {
      if (previous && previous.conversation_id !== m.conversation_id) {
        thread.append(el("div", "boundary", t("conversation_closed_at", { id: previous.conversation_id, at: clock(previous.at) })));
      }
      previous = m;
      const kind = m.private ? "note" : m.author;
      const box = el("div", `msg ${kind}`);
      box.dataset.mid = m.id;
      const head = el("div", "msg-head");
      head.append(el("span", "author", t(m.private ? "private" : m.author)), chan(m.channel), el("span", null, clock(m.at)));
      box.append(head);
      if (m.text || !m.action) box.append(el("div", "msg-body", m.text));
      if (m.action) box.append(el("div", "action", t(`action_${m.action}`)));
      if (m.delivery === "failed") box.append(undelivered(m, holding && m.conversation_id === c.id));
      if (m.original_text) {   // an email: the fresh words above, the whole letter on demand
        const toggle = el("button", "letter-toggle", t("whole_letter"));
        toggle.type = "button";
        const letter = el("div", "letter", m.original_text);
        letter.hidden = !openLetters.has(m.id);
        if (!letter.hidden) toggle.textContent = t("fresh_only");
        toggle.addEventListener("click", () => {
          letter.hidden = !letter.hidden;
          if (letter.hidden) openLetters.delete(m.id); else openLetters.add(m.id);
          toggle.textContent = t(letter.hidden ? "whole_letter" : "fresh_only");
        });
        box.append(toggle, letter);
      }
      if (m.attachments && m.attachments.length) {
        const files = el("div", "files");
        m.attachments.forEach((a, i) => {
          const parts = [a.name || a.kind, a.mime, a.size ? `${Math.max(1, Math.round(a.size / 1024))} KB` : null];
          const label = parts.filter(Boolean).join(" · ");
          if (!a.opens) { files.append(withIcon("span", "file", "clip", label)); return; }   // a platform's file: no bytes here
          const link = el("a", "file");
          link.append(withIcon("span", null, "clip", label));
          link.href = `/operator/files/${m.id}/${i + 1}`;
          link.target = "_blank";
          link.rel = "noopener";
          if (PICTURES.has(a.mime)) {
            const picture = el("img", "picture");
            picture.src = link.href;
            picture.alt = a.name || "";
            picture.loading = "lazy";
            link.prepend(picture);
          }
          files.append(link);
        });
        box.append(files);
      }
      thread.append(box);
    }
    thread.scrollTop = atBottom || thread.dataset.id !== String(c.id) ? thread.scrollHeight : kept;
    thread.dataset.id = c.id;
    const hit = hitMessage && thread.querySelector(`[data-mid="${hitMessage}"]`);
    if (hit) { hit.classList.add("hit"); hit.scrollIntoView({ block: "center" }); hitMessage = null; }
  }

  // the KB's best articles for the client's last question, or for what the operator looks
  // up: one click puts one in the reply, "+" adds the client's question to that article
  let kbFound = null;   // {conversation_id, query, articles} while the operator searches
  let kbTimer = null;
  function renderSuggestions(c, holding) {
    const box = $("suggestions");
    box.hidden = !holding;
    if (!holding) return;
    const query = $("kb-q").value.trim();
    const searching = query && kbFound && kbFound.conversation_id === c.id && kbFound.query.trim() === query;
    const items = searching ? kbFound.articles : (query ? [] : c.suggestions || []);
    const chips = $("kb-chips");
    chips.replaceChildren();
    if (items.length) chips.append(el("span", "label", t(searching ? "kb_found" : "from_kb")));
    else if (searching) chips.append(el("span", "label", t("kb_nothing")));
    for (const s of items) {
      const chip = el("button", "suggestion", s.title);
      chip.type = "button";
      chip.title = s.answer;
      chip.dataset.article = s.article_id;
      chip.addEventListener("click", () => {
        const reply = $("reply-text");
        reply.value = reply.value.trim() ? `${reply.value.trimEnd()}\n\n${s.answer}` : s.answer;
        reply.focus();
      });
      const teach = el("button", "suggestion teach", "+");
      teach.type = "button";
      teach.title = t("kb_teach", { title: s.title });
      teach.dataset.article = s.article_id;
      teach.addEventListener("click", () => {
        if (confirm(t("kb_teach", { title: s.title }))) command({ cmd: "kb_save", conversation_id: c.id, article_id: s.article_id });
      });
      chips.append(chip, teach);
    }
  }
  $("kb-q").addEventListener("input", () => {
    clearTimeout(kbTimer);
    kbTimer = setTimeout(() => {
      if (!conversation) return;
      const query = $("kb-q").value;
      if (query.trim()) command({ cmd: "kb_search", conversation_id: conversation.id, query });
      else renderConversation();
    }, 250);
  });
  $("kb-save").addEventListener("click", () => {
    if (conversation && confirm(t("kb_save_confirm"))) command({ cmd: "kb_save", conversation_id: conversation.id });
  });

  // the channel to answer in: the one the client wrote from last, or another of theirs
  const viaChosen = new Map();   // conversation id -> the channel the operator picked
  function renderVia(c, holding) {
    const pick = $("reply-via");
    const channels = c.reachable || [];
    pick.hidden = !holding || channels.length < 2;
    if (pick.hidden) return;
    const chosen = viaChosen.get(c.id) || c.channel;
    pick.replaceChildren(...channels.map((ch) => {
      const option = el("option", null, t("via", { channel: TEXTS[lang][`ch_${ch}`] || ch }));
      option.value = ch;
      return option;
    }));
    pick.value = channels.includes(chosen) ? chosen : c.channel;
    pick.title = t("via_title");
  }
  $("reply-via").addEventListener("change", (event) => {
    if (conversation) viaChosen.set(conversation.id, event.target.value);
  });

  // saved replies: the desk's and the operator's own; picking one inserts it into the reply
  let macros = [], macroAdmin = false;
  function renderMacros(list, admin) {
    macros = list;
    macroAdmin = admin;
    const pick = $("macro-pick");
    pick.replaceChildren(el("option", null, t("macros")));
    pick.firstChild.value = "";
    for (const [shared, label] of [[true, t("macro_desk")], [false, t("macro_mine")]]) {
      const items = list.filter((m) => m.shared === shared);
      if (!items.length) continue;
      const group = el("optgroup");
      group.label = label;
      for (const m of items) { const option = el("option", null, m.title); option.value = m.id; group.append(option); }
      pick.append(group);
    }
  }
  $("macro-pick").addEventListener("change", (event) => {
    const macro = macros.find((m) => String(m.id) === event.target.value);
    event.target.value = "";
    if (!macro) return;
    const text = filledIn(macro.text);
    const reply = $("reply-text");
    reply.value = reply.value.trim() ? `${reply.value.trimEnd()}\n\n${text}` : text;
    reply.focus();
  });
  // a saved reply's {client} / {клиент} is the client's first name, {operator} / {оператор}
  // yours; with no name to put there, the placeholder goes with the comma before it
  function filledIn(text) {
    const c = conversation;
    const named = c && !c.anonymous && !/[@#+\d]/.test(c.client_name || "");
    const client = named ? c.client_name.trim().split(/\s+/)[0] : "";
    return text
      .replace(/,?[ \t]*\{(client|клиент)\}/gi, (found) => (client ? found.replace(/\{[^}]+\}/, client) : ""))
      .replace(/\{(operator|оператор)\}/gi, me ? me.name : "");
  }
  $("macro-save").addEventListener("click", () => {
    const text = $("reply-text").value.trim();
    if (!text) { $("reply-text").focus(); return; }
    const title = (prompt(t("macro_title"), text.split("\n")[0].slice(0, 60)) || "").trim();
    if (!title) return;
    command({ cmd: "macro_save", title, text, shared: macroAdmin && confirm(t("macro_shared")) });
  });

  // -- the client card beside the thread -------------------------------------------------
  const day = (iso) => new Date(iso).toLocaleDateString(lang, { day: "2-digit", month: "2-digit", year: "numeric" });
  async function api(path, options = {}) {
    const sep = path.includes("?") ? "&" : "?";
    const answer = await fetch(`${path}${sep}lang=${lang}`, { credentials: "same-origin", ...options });
    const body = await answer.json().catch(() => ({}));
    if (answer.status === 401) { showLogin(t("unauthorized")); throw new Error("unauthorized"); }
    if (!answer.ok) throw new Error(body.error || `${answer.status}`);
    return body;
  }
  let cardAsked = 0;
  async function loadCard(clientId) {
    const asked = ++cardAsked;
    try {
      const loaded = await api(`/operator/clients/${clientId}`);
      if (asked !== cardAsked) return;   // a newer card was asked for meanwhile
      card = loaded;
      renderCard();
    } catch (error) {
      if (error.message !== "unauthorized") toast(`${t("card_failed")}: ${error.message}`, true);
    }
  }
  function section(title, ...children) {
    const box = el("section", "card-section");
    box.append(el("h3", null, title), ...children);
    return box;
  }
  function renderCard() {
    const box = $("card");
    box.hidden = !card;
    if (!card) return;
    box.replaceChildren();
    box.dataset.client = card.id;
    const admin = me && me.role === "admin";
    const head = el("header", "card-head");
    const shut = el("button", "link card-close", "×");
    shut.type = "button";
    shut.setAttribute("aria-label", t("back"));
    shut.addEventListener("click", () => $("app").classList.remove("card-open"));
    head.append(shut);
    const who = el("strong", "card-name");
    who.append(clientBadge({ anonymous: card.anonymous, client_id: card.id, client_name: card.name }));
    head.append(who);
    if (card.tier === "vip") head.append(el("span", "vip", t("tier_vip")));
    head.append(el("div", "muted", t("client_since", { id: card.id, date: day(card.since) })));
    if (card.asked_id !== card.id) head.append(el("div", "muted", t("merged_into", { asked: card.asked_id })));
    for (const [value, proved] of [[card.email, card.email_proved], [card.phone, card.phone_proved]]) {
      if (!value) continue;
      const line = el("div", "contact");
      line.append(el("span", null, value), el("span", proved ? "proof ok" : "proof weak", t(proved ? "proved" : "not_proved")));
      head.append(line);
    }
    box.append(head);

    const ids = el("ul", "identities");
    for (const i of card.identities) {
      const li = el("li", "identity");
      li.dataset.proof = i.proof;
      const top = el("div");
      top.append(chan(i.channel), " ", el("span", "ext", i.shown_id));
      if (i.display_name) top.append(" ", el("span", "muted", i.display_name));
      li.append(top, el("div", `proof ${["platform", "email_code"].includes(i.proof) ? "ok" : "weak"}`, t(`proof_${i.proof}`)));
      if (i.phone) li.append(el("div", "muted", `${i.phone}${i.phone_proved ? ` · ${t("phone_proved")}` : ""}`));
      if (i.joined) {
        const j = i.joined;
        const joined = el("div", "joined", t("joined", { at: day(j.at), reason: t(`reason_${j.reason}`) }));
        if (j.operator) joined.append(` · ${t("by", { name: j.operator })}`);
        if (j.proof) joined.title = j.proof;
        li.append(joined);
        if (j.proof) li.append(el("div", "muted small", j.proof));
      }
      ids.append(li);
    }
    box.append(section(t("channels"), ids));

    const convs = el("ul", "past");
    for (const c of card.conversations) {
      const li = el("li");
      const button = el("button", "past-item");
      button.type = "button";
      button.dataset.conversation = c.id;
      if (conversation && conversation.id === c.id) button.classList.add("current");
      const line = el("span", "past-top");
      line.append(el("strong", null, `#${c.id}`), el("span", `state-pill ${c.status}`, t(`status_${c.status}`)), chan(c.channel),
        el("span", "muted", day(c.created_at)));
      if (c.rating) line.append(el("span", "stars", "★".repeat(c.rating)));
      button.append(line);
      const words = c.subject || c.preview;
      if (words) button.append(el("span", "past-preview", words));
      button.addEventListener("click", () => command({ cmd: "open", conversation_id: c.id }));
      li.append(button);
      convs.append(li);
    }
    box.append(section(t("conversations"), convs));

    const notes = el("ul", "notes");
    for (const n of card.notes) {
      const li = el("li", "note-line");
      li.append(el("div", "note-text", n.text),
        el("div", "muted small", `#${n.conversation_id} · ${n.operator || t(n.author)} · ${clock(n.at)}`));
      notes.append(li);
    }
    box.append(section(t("notes"), card.notes.length ? notes : el("p", "muted", t("no_notes"))));

    if (card.hints.length) {
      const hints = el("ul", "hints");
      for (const h of card.hints) {
        const li = el("li");
        li.append(el("span", null, t("merge_hint", { id: h.client_id, what: t(`hint_${h.reason}`), value: h.value })));
        if (admin) li.append(" ", mergeButton(h.client_id));
        hints.append(li);
      }
      box.append(section(t("hints"), hints));
    }
    if (card.merges.length || admin) {
      const merges = el("ul", "merges");
      for (const m of card.merges) {
        const li = el("li");
        li.dataset.record = m.record_id;
        li.append(el("span", null, t("merge_line", { merged: m.merged_id, survivor: m.survivor_id, reason: t(`reason_${m.reason}`), at: day(m.at) })));
        if (m.undone_at) li.append(" ", el("span", "muted", t("undone", { at: day(m.undone_at) })));
        else if (admin) {
          const undo = el("button", "secondary small undo", t("undo"));
          undo.type = "button";
          undo.addEventListener("click", () => undoMerge(m.record_id));
          li.append(" ", undo);
        }
        merges.append(li);
      }
      const parts = [merges];
      if (admin) {
        const form = el("form", "merge-form");
        const input = el("input");
        input.id = "merge-other";
        input.placeholder = t("merge_with");
        input.inputMode = "numeric";
        input.maxLength = 12;
        const go = el("button", "secondary small", t("merge"));
        go.type = "submit";
        form.append(input, go);
        form.addEventListener("submit", (event) => { event.preventDefault(); if (input.value.trim()) mergeInto(input.value.trim()); });
        parts.push(form);
      }
      box.append(section(t("merges"), ...parts));
    }
    if (admin) {   // what a person may ask of the desk about their data
      const personal = el("div", "personal-data");
      const exported = el("a", "button secondary small", t("export"));
      exported.id = "export-client";
      exported.href = `/operator/clients/${card.id}/export`;
      exported.download = `client-${card.id}.json`;
      const forget = el("button", "secondary small danger", t("forget"));
      forget.id = "forget-client";
      forget.type = "button";
      forget.addEventListener("click", forgetClient);
      personal.append(exported, forget);
      box.append(personal);
    }
  }
  function mergeButton(other) {
    const button = el("button", "secondary small", t("merge"));
    button.type = "button";
    button.addEventListener("click", () => mergeInto(String(other)));
    return button;
  }
  async function mergeInto(other) {
    const id = card.id;
    if (!confirm(t("confirm_merge", { other: other.replace(/^#/, ""), id }))) return;
    try {
      await api(`/operator/clients/${id}/merge`, { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ other }) });
      toast(t("merged_done"));
    } catch (error) { if (error.message !== "unauthorized") toast(error.message, true); }
    loadCard(id);
  }
  async function forgetClient() {
    const id = card.id;
    if (!confirm(t("confirm_forget", { id }))) return;
    try {
      const done = await api(`/operator/clients/${id}/forget`, { method: "POST" });
      toast(t("forgotten_done", { id, conversations: done.conversations, messages: done.messages }));
    } catch (error) { if (error.message !== "unauthorized") toast(error.message, true); }
    loadCard(id);
  }
  async function undoMerge(recordId) {
    if (!confirm(t("confirm_undo", { id: recordId }))) return;
    try {
      await api(`/operator/merges/${recordId}/undo`, { method: "POST" });
      toast(t("undone_done"));
    } catch (error) { if (error.message !== "unauthorized") toast(error.message, true); }
    loadCard(card.id);
  }
  $("conv-card").addEventListener("click", () => $("app").classList.toggle("card-open"));

  // -- search: one box for clients and messages -------------------------------------------
  let searchTimer = null, searchAsked = 0;
  async function runSearch() {
    const q = $("search-q").value.trim();
    const panel = $("search-results");
    if (q.length < 2) { panel.hidden = true; return; }
    const asked = ++searchAsked;
    let found;
    try { found = await api(`/operator/search?q=${encodeURIComponent(q)}`); }
    catch (error) { if (error.message !== "unauthorized") toast(error.message, true); return; }
    if (asked !== searchAsked) return;
    panel.replaceChildren();
    if (!found.clients.length && !found.messages.length) panel.append(el("p", "muted", t("search_none")));
    if (found.clients.length) {
      const list = el("ul", "found-clients");
      for (const c of found.clients) {
        const button = el("button", "found");
        button.type = "button";
        button.dataset.client = c.client_id;
        button.append(clientBadge({ anonymous: c.anonymous, client_id: c.client_id, client_name: c.name }));
        for (const ch of c.channels) button.append(" ", chan(ch));
        const extra = [c.email, c.phone].filter(Boolean).join(" · ");
        if (extra) button.append(el("span", "muted", ` ${extra}`));
        button.addEventListener("click", () => openClient(c.client_id));
        const li = el("li");
        li.append(button);
        list.append(li);
      }
      panel.append(el("h3", null, t("search_clients")), list);
      if (found.more_clients) panel.append(el("p", "muted small", t("search_more", { n: found.clients.length })));
    }
    if (found.messages.length) {
      const list = el("ul", "found-messages");
      for (const m of found.messages) {
        const button = el("button", "found");
        button.type = "button";
        button.dataset.message = m.message_id;
        const top = el("span", "found-top");
        top.append(el("strong", null, m.anonymous ? t("visitor", { n: m.client_id }) : m.client_name), chan(m.channel),
          el("span", "muted", `#${m.conversation_id} · ${t(m.private ? "private" : m.author)} · ${clock(m.at)}`));
        button.append(top, el("span", m.private ? "found-text note" : "found-text", m.snippet));
        button.addEventListener("click", () => {
          hitMessage = m.message_id;
          $("search-results").hidden = true;
          command({ cmd: "open", conversation_id: m.conversation_id });
        });
        const li = el("li");
        li.append(button);
        list.append(li);
      }
      panel.append(el("h3", null, t("search_messages")), list);
      if (found.more_messages) panel.append(el("p", "muted small", t("search_more", { n: found.messages.length })));
    }
    panel.hidden = false;
  }
  async function openClient(clientId) {
    $("search-results").hidden = true;
    await loadCard(clientId);
    if (card && card.conversations.length) command({ cmd: "open", conversation_id: card.conversations[0].id });
    $("app").classList.add("card-open");
  }
  $("search-q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 250); });
  $("search").addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(searchTimer); runSearch(); });
  $("search-q").addEventListener("keydown", (event) => { if (event.key === "Escape") $("search-results").hidden = true; });
  document.addEventListener("click", (event) => {
    if (!$("search-results").contains(event.target) && event.target !== $("search-q")) $("search-results").hidden = true;
  });

  // -- the socket ------------------------------------------------------------------------
  function setConn(state) {
    $("conn").className = `conn ${state}`;
    $("conn-text").textContent = t(state);
  }
  function connect() {
    setConn("connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ lang });
    socket = new WebSocket(`${scheme}://${location.host}/operator/ws?${query}`);
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      receive(frame);
    });
    socket.addEventListener("close", (event) => {
      setConn("offline");
      if (REFUSED.has(event.code)) return;
      const delay = Math.min(15000, 1000 * 2 ** attempt++) * (0.75 + Math.random() / 2);
      setTimeout(connect, delay);
    });
  }
  function command(fields) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(fields));
    else toast(t("offline"), true);
  }
  function receive(frame) {
    if (frame.type === "hello") {
      attempt = 0;
      showApp();
      me = frame.operator;
      maxFile = frame.max_file || 0;
      categories = frame.categories || [];
      $("attach").hidden = !maxFile;
      $("reports-link").hidden = me.role !== "admin";   // reports are for admins
      $("team-link").hidden = me.role !== "admin";      // so is managing the team
      $("me").textContent = me.name;
      setPresence(frame.presence);
      setConn("online");
      if (view !== "waiting") command({ cmd: "queue", view });
      if (wantOpen) command({ cmd: "open", conversation_id: wantOpen });
    } else if (frame.type === "queue") {
      skew = new Date(frame.now).getTime() - Date.now();
      if (frame.view !== view) return;
      rows = frame.rows.map((row) => ({ ...row, arrived: now() - row.waited * 1000 }));
      renderQueue();
    } else if (frame.type === "conversation") {
      if (!conversation || conversation.id !== frame.conversation.id) {   // files and a KB search go with one conversation
        setOutgoing([]);
        $("kb-q").value = "";
        kbFound = null;
      }
      conversation = frame.conversation;
      if (transferring && transferring.id === conversation.id && !conversation.mine) {
        toast(t("transferred", transferring));
        transferring = null;
      }
      if (!frame.live) $("app").classList.add("reading");
      wantOpen = conversation.id;
      renderConversation();
      renderQueue();
      if (!frame.live || !card || card.id !== conversation.client_id) loadCard(conversation.client_id);
      else renderCard();
    } else if (frame.type === "presence") {
      setPresence(frame.state);
    } else if (frame.type === "transfer_targets") {
      openTransfer(frame);
    } else if (frame.type === "kb_results") {
      kbFound = frame;
      if (conversation) renderSuggestions(conversation, conversation.mine && conversation.status === "assigned");
    } else if (frame.type === "kb_saved") {
      toast(frame.created ? t("kb_created", { id: frame.article_id }) : t("kb_added", { id: frame.article_id, question: frame.question }));
    } else if (frame.type === "macros") {
      renderMacros(frame.macros, frame.admin);
    } else if (frame.type === "notice") {
      notice(frame.notice);
      if (["merged", "unmerged", "forgotten"].includes(frame.notice.kind) && card) loadCard(card.id);
    } else if (frame.type === "error") {
      if (["unauthorized", "disabled"].includes(frame.code)) { showLogin(frame.code === "disabled" ? t(frame.code) : ""); return; }
      if ((frame.cmd === "reply" || frame.cmd === "note") && !$("reply-text").value) $("reply-text").value = draft;
      if (frame.cmd === "transfer") transferring = null;
      toast(frame.code === "desk" ? frame.error : (TEXTS[lang][frame.code] ? t(frame.code) : frame.error), true);
    }
  }
  // A channel's fault comes with every failed send; an admin is told once in ten minutes.
  const faultToldAt = {};
  function recentlyTold(channel) {
    const now = Date.now(), recent = now - (faultToldAt[channel] || 0) < 10 * 60 * 1000;
    if (!recent) faultToldAt[channel] = now;
    return recent;
  }
  function notice(n) {
    if (!me) return;
    const open = conversation && n.conversation_id === conversation.id;
    const concernsMe = n.operator_id === me.id || open;
    if (n.kind === "queued" && me.groups.includes(n.group)) attention(t("new_in_queue", { id: n.conversation_id, group: n.group }));
    if (n.kind === "taken" && n.pushed && n.operator_id === me.id) attention(t("given_to_you", { id: n.conversation_id }));
    if (n.kind === "transferred" && n.operator_id === me.id && n.from_operator_id !== me.id) {
      const given = t("given_to_you", { id: n.conversation_id }) + (n.note ? `: ${n.note}` : "");
      toast(given);
      attention(given);
    }
    if (n.kind === "mentioned" && n.operator_ids.includes(me.id)) {
      const named = t("mentioned_you", { name: n.from_name, id: n.conversation_id, note: n.note });
      toast(named);
      attention(named);
    }
    if (n.kind === "mentioned" && n.from_operator_id === me.id) toast(t("mention_told", { names: n.names.join(", ") }));
    if (n.kind === "client_message" && n.operator_id === me.id) attention(t("new_message", { id: n.conversation_id }));
    // the open thread shows the message itself: a toast only for another of mine
    if (n.kind === "client_message" && concernsMe && !open) toast(t("new_message", { id: n.conversation_id }));
    if (n.kind === "undelivered" && concernsMe) toast(t("undelivered_toast", { id: n.conversation_id, error: faultText(n.fault) || n.error || "" }), true);
    if (n.kind === "channel_fault" && me.role === "admin" && !recentlyTold(n.channel)) {
      toast(t("channel_fault_toast", { channel: TEXTS[lang][`ch_${n.channel}`] || n.channel }), true);
    }
    if (n.kind === "quarantined") toast(t("quarantined_toast", { id: n.conversation_id, error: n.error || "" }), true);
  }

  // -- attention: a console in a background tab says what needs the operator -------------
  // the tab's title counts it, a short tone sounds, and a desktop notification shows once
  // the operator allowed them (the bell in the top bar asks)
  const titled = document.title;
  let unseen = 0;
  function attention(text) {
    if (!document.hidden) return;
    unseen += 1;
    document.title = `(${unseen}) ${titled}`;
    tone();
    if (window.Notification && Notification.permission === "granted") new Notification(text, { tag: "switchboard" });
  }
  function tone() {
    try {
      const audio = new AudioContext();
      const beep = audio.createOscillator(), gain = audio.createGain();
      beep.frequency.value = 880;
      gain.gain.value = 0.05;
      beep.connect(gain).connect(audio.destination);
      beep.onended = () => audio.close();
      beep.start();
      beep.stop(audio.currentTime + 0.15);
    } catch { /* no sound here: the title still counts */ }
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { unseen = 0; document.title = titled; }
  });
  $("notify").hidden = !window.Notification || Notification.permission !== "default";
  $("notify").title = t("notify_title");
  $("notify").addEventListener("click", async () => {
    await Notification.requestPermission();
    $("notify").hidden = Notification.permission !== "default";
  });

  // -- login and controls ----------------------------------------------------------------
  function showLogin(error) {
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-name").value = localStorage.getItem("switchboard.operator") || "";
    $("login-error").hidden = !error;
    $("login-error").textContent = error || "";
    ($("login-name").value ? $("login-password") : $("login-name")).focus();
  }
  function showApp() { $("login").hidden = true; $("app").hidden = false; }

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const login = $("login-name").value.trim();
    localStorage.setItem("switchboard.operator", login);
    let answer;
    try {
      answer = await fetch("/operator/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ login, password: $("login-password").value }) });
    } catch { showLogin(t("offline")); return; }
    $("login-password").value = "";
    if (answer.ok) { attempt = 0; connect(); return; }
    const body = await answer.json().catch(() => ({}));
    showLogin(body.error === "throttled" ? t("throttled", { s: body.retry_after }) : t("wrong_password"));
  });
  $("logout").addEventListener("click", async () => {
    await fetch("/operator/logout", { method: "POST" }).catch(() => null);
    if (socket) socket.close(4000, "signed out");
    showLogin();
  });
  document.querySelectorAll(".tabs button").forEach((button) => button.addEventListener("click", () => {
    view = button.dataset.view;
    rows = [];
    renderQueue();
    command({ cmd: "queue", view });
  }));
  $("take-next").addEventListener("click", () => command({ cmd: "next" }));

  // -- presence: whether the desk pushes new conversations to me ---------------------------
  function setPresence(state) {
    const pick = $("presence");
    pick.value = state;
    pick.className = `presence ${state}`;
  }
  $("presence").addEventListener("change", (event) => command({ cmd: "presence", state: event.target.value }));

  // -- transfer: to a group's queue or to a colleague, with a note only operators see -----
  let transferring = null;   // {id, to} until the conversation has left us
  $("conv-transfer").addEventListener("click", () => command({ cmd: "transfer_targets" }));
  function transferTarget(fields, label, detail, available) {
    const row = el("label", available ? "target" : "target unavailable");
    const radio = el("input");
    radio.type = "radio";
    radio.name = "target";
    radio.disabled = !available;
    radio.required = true;   // the form does not go without a pick
    Object.assign(radio.dataset, fields, { label });
    row.append(radio, el("span", null, label));
    if (detail) row.append(el("span", "muted", detail));
    return row;
  }
  function openTransfer(targets) {
    if (!conversation || !conversation.mine) return;
    const box = $("transfer-targets");
    box.replaceChildren();
    if (targets.colleagues.length) {
      box.append(el("legend", null, t("transfer_colleagues")));
      for (const c of targets.colleagues) {
        const detail = `${t(`p_${c.presence}`)} · ${t("holds", { n: c.holds, cap: c.capacity })}`;
        box.append(transferTarget({ operator: c.id }, c.name, detail, c.presence !== "offline" && c.holds < c.capacity));
      }
    }
    if (targets.groups.length) {
      box.append(el("legend", null, t("transfer_groups")));
      for (const g of targets.groups) {
        box.append(transferTarget({ group: g }, g, g === conversation.group ? t("current_group") : "", true));
      }
    }
    if (!targets.colleagues.length && !targets.groups.length) { toast(t("transfer_nobody"), true); return; }
    $("transfer-title").textContent = t("transfer_title", { id: conversation.id });
    $("transfer-note").value = "";
    $("transfer").showModal();
  }
  $("transfer-form").addEventListener("submit", (event) => {
    const picked = $("transfer-form").querySelector("input[name=target]:checked");
    if (!picked) { event.preventDefault(); return; }
    const where = picked.dataset.group !== undefined ? { group: picked.dataset.group } : { operator_id: Number(picked.dataset.operator) };
    transferring = { id: conversation.id, to: picked.dataset.label };
    command({ cmd: "transfer", conversation_id: conversation.id, note: $("transfer-note").value, ...where });
  });
  $("transfer-cancel").addEventListener("click", () => $("transfer").close());
  $("conv-back").addEventListener("click", () => $("app").classList.remove("reading"));
  // keyboard: Alt+N take the next, Alt+T take the open one, Alt+C close it
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || $("app").hidden) return;
    const key = event.code;
    if (key === "KeyN") { event.preventDefault(); command({ cmd: "next" }); }
    else if (key === "KeyT" && conversation && !$("conv-take").hidden) { event.preventDefault(); $("conv-take").click(); }
    else if (key === "KeyC" && conversation && !$("conv-close").hidden) { event.preventDefault(); $("conv-close").click(); }
  });
  $("conv-take").addEventListener("click", () => command({ cmd: "take", conversation_id: conversation.id }));
  $("conv-close").addEventListener("click", () => {
    if (confirm(t("confirm_close", { id: conversation.id }))) command({ cmd: "close", conversation_id: conversation.id });
  });
  function send(cmd) {
    const box = $("reply-text");
    const files = cmd === "reply" ? outgoing : [];   // a note stays text
    if (!conversation || (!box.value.trim() && !files.length)) return;
    draft = box.value;
    const via = $("reply-via");
    const elsewhere = cmd === "reply" && !via.hidden && via.value !== conversation.channel;
    command({ cmd, conversation_id: conversation.id, text: box.value, ...(files.length ? { files } : {}),
      ...(elsewhere ? { via: via.value } : {}) });
    box.value = "";
    if (files.length) setOutgoing([]);
  }

  // -- files for a reply: uploaded when picked, sent with the reply ----------------------
  function setOutgoing(files) {
    outgoing = files;
    const box = $("outgoing");
    box.replaceChildren(...files.map((f, i) => {
      const chip = withIcon("span", "file", "clip", f.name);
      const remove = el("button", null, "×");
      remove.type = "button";
      remove.title = t("remove_file");
      remove.addEventListener("click", () => setOutgoing(outgoing.filter((_, j) => j !== i)));
      chip.append(remove);
      return chip;
    }));
    box.hidden = !files.length;
  }
  $("attach").addEventListener("click", () => $("attach-file").click());
  $("attach-file").addEventListener("change", async () => {
    const picked = [...$("attach-file").files];
    $("attach-file").value = "";
    const mb = Math.floor(maxFile / (1024 * 1024));
    for (const file of picked) {
      if (file.size > maxFile) { toast(t("file_too_big", { name: file.name, max: mb }), true); continue; }
      try {
        const answer = await fetch("/operator/uploads", { method: "POST", body: file, credentials: "same-origin" });
        if (!answer.ok) throw new Error(answer.status === 413 ? t("file_too_big", { name: file.name, max: mb }) : await answer.text());
        const { file: digest } = await answer.json();
        setOutgoing([...outgoing, { file: digest, name: file.name, mime: file.type }]);
      } catch (error) {
        toast(t("file_failed", { name: file.name, error: error.message }), true);
      }
    }
  });
  // the client sees "typing…" while the operator writes (a signal every few seconds at most)
  let typingSent = 0;
  $("reply-text").addEventListener("input", () => {
    const holding = conversation && conversation.mine && conversation.status === "assigned";
    if (!holding || !$("reply-text").value.trim() || Date.now() - typingSent < 4000) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    typingSent = Date.now();
    socket.send(JSON.stringify({ cmd: "typing", conversation_id: conversation.id }));
  });
  $("reply").addEventListener("submit", (event) => { event.preventDefault(); if (!$("send-reply").disabled) send("reply"); });
  $("send-note").addEventListener("click", () => send("note"));
  $("reply-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!$("send-reply").disabled) send("reply");
    }
  });
  setInterval(() => { renderQueue(); if (conversation) renderConversation(); }, 20000);
  connect();
})();
