// Switchboard web chat: one WebSocket to /ws; messages stay "pending" (kept in
// localStorage) until the server acknowledges them, and are sent again after a reconnect.
"use strict";

(() => {
  const TEXTS = {
    ru: {
      title: "Поддержка", connecting: "Подключение…", online: "На связи", offline: "Нет связи, переподключаемся…",
      human: "Позвать оператора", placeholder: "Напишите сообщение…",
      welcome_title: "Здравствуйте!",
      welcome_text: "Задайте вопрос — бот ответит сразу, а если не сможет, подключится оператор.",
      bot: "Бот", operator: "Оператор", you: "Вы", retry: "Отправить ещё раз",
      too_long: "Сообщение слишком длинное: не больше {max} символов.",
      not_stored: "Сообщение пока не сохранено, пробуем снова…",
      bad_request: "Сервер не понял сообщение.", unavailable: "Сервис временно недоступен.",
      counter: "{n} из {max}",
      action_handoff: "Позвать оператора", action_rate: "Оценка отправлена", action_choose: "Выбран вариант",
      action_resolved: "Вопрос решён",
      rated: "Ваша оценка: {n}", new_conversation: "Новый разговор",
      prechat_title: "Представьтесь, пожалуйста",
      prechat_text: "Так оператору будет проще к вам обратиться. Оба поля необязательны.",
      prechat_name: "Имя", prechat_email: "Электронная почта", prechat_note: "Ответы приходят сюда, в чат.",
      prechat_start: "Начать чат", bad_email: "Похоже, в адресе почты ошибка.",
      attach: "Прикрепить файл", file_too_big: "Файл «{name}» больше {max} МБ: столько чат не принимает.",
      file_failed: "Файл «{name}» не отправлен: {error}", bad_file: "Файл не найден на сервере: прикрепите его ещё раз.",
    },
    en: {
      title: "Support", connecting: "Connecting…", online: "Online", offline: "Offline, reconnecting…",
      human: "Talk to a person", placeholder: "Type a message…",
      welcome_title: "Hello!",
      welcome_text: "Ask a question: the bot answers right away, and an operator joins when it can't.",
      bot: "Bot", operator: "Operator", you: "You", retry: "Send again",
      too_long: "The message is too long: at most {max} characters.",
      not_stored: "Not stored yet, trying again…",
      bad_request: "The server did not understand the message.", unavailable: "The service is temporarily unavailable.",
      counter: "{n} of {max}",
      action_handoff: "Talk to a person", action_rate: "Rating sent", action_choose: "Option chosen",
      action_resolved: "Question solved",
      rated: "Your rating: {n}", new_conversation: "New conversation",
      prechat_title: "Please introduce yourself",
      prechat_text: "It helps the operator address you. Both fields are optional.",
      prechat_name: "Name", prechat_email: "Email", prechat_note: "Answers arrive here, in the chat.",
      prechat_start: "Start chat", bad_email: "The email address looks mistyped.",
      attach: "Attach a file", file_too_big: "“{name}” is over {max} MB, more than the chat takes.",
      file_failed: "“{name}” was not sent: {error}", bad_file: "The file is gone from the server: attach it again.",
    },
  };
  const CHANNELS = { telegram: "Telegram", vk: "VK", email: "Email" };
  const PICTURES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);   // shown in the bubble
  const MAX = 8000;
  const PENDING_KEY = "switchboard.pending";
  const INTRO_KEY = "switchboard.intro";   // the pre-chat form: {name, email, sent}
  const lang = (navigator.languages || [navigator.language || "ru"])
    .some((l) => String(l).toLowerCase().startsWith("ru")) ? "ru" : "en";
  const t = (key, values = {}) =>
    (TEXTS[lang][key] || key).replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : `{${k}}`));

  const $ = (id) => document.getElementById(id);
  const list = $("messages"), input = $("input"), sendButton = $("send"), form = $("composer");
  const statusBox = $("status"), statusText = $("status-text"), typing = $("typing"), counter = $("counter");
  const rows = new Map();           // message id → row element
  let pending = loadPending();      // client id → {id, type, text, action, payload, label}
  let socket = null, attempt = 0, typingTimer = null;
  let maxFile = 0;                  // the largest file the desk takes (history says); 0: none
  let intro = loadIntro();           // what the pre-chat form said, until a message carries it

  document.documentElement.lang = lang;
  document.title = t("title");
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  document.querySelectorAll("[data-t-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.tPlaceholder); });
  document.querySelectorAll("[data-t-label]").forEach((el) => { el.setAttribute("aria-label", t(el.dataset.tLabel)); el.title = t(el.dataset.tLabel); });

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  function loadPending() {
    try { return new Map(JSON.parse(localStorage.getItem(PENDING_KEY) || "[]").map((m) => [m.id, m])); }
    catch { return new Map(); }
  }
  function loadIntro() {
    try { return JSON.parse(localStorage.getItem(INTRO_KEY) || "null"); } catch { return null; }
  }
  function saveIntro() {
    try { localStorage.setItem(INTRO_KEY, JSON.stringify(intro)); } catch { /* private mode */ }
  }
  function savePending() {
    try { localStorage.setItem(PENDING_KEY, JSON.stringify([...pending.values()])); } catch { /* private mode */ }
  }

  // -- rendering -------------------------------------------------------------------------
  function linkify(parent, text) {
    const url = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]]/g;
    let last = 0;
    for (const match of text.matchAll(url)) {
      parent.append(document.createTextNode(text.slice(last, match.index)));
      const a = document.createElement("a");
      a.href = match[0]; a.textContent = match[0]; a.target = "_blank"; a.rel = "noopener noreferrer";
      parent.append(a);
      last = match.index + match[0].length;
    }
    parent.append(document.createTextNode(text.slice(last)));
  }
  function clock(iso) {
    const d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  }
  function actionText(message) {
    if (message.label) return message.label;
    if (message.action === "rate" && message.payload) return t("rated", { n: message.payload.split(":").pop() });
    return t(`action_${message.action}`);
  }
  let lastConversation = null;
  function render(message, state = "") {
    $("welcome").hidden = true;
    const author = message.author || "client";
    const row = document.createElement("div");
    row.className = `row ${author} ${state}`.trim();
    row.dataset.id = message.id;
    if (author === "bot" || author === "operator") {
      const who = document.createElement("div");
      who.className = "who";
      who.textContent = t(author);
      if (message.channel && CHANNELS[message.channel]) {
        const badge = document.createElement("span");
        badge.className = "badge"; badge.textContent = CHANNELS[message.channel];
        who.append(badge);
      }
      row.append(who);
    }
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    const text = message.text || (message.action ? actionText(message) : "");
    if (!message.text && message.action) row.classList.add("chip");
    linkify(bubble, text);
    if (message.attachments && message.attachments.length) {
      const files = document.createElement("div");
      files.className = "files";
      const stored = message.stored_id;   // a stored message: its files open here
      message.attachments.forEach((a, i) => {
        const link = a.opens && stored;
        const f = document.createElement(link ? "a" : "span");
        f.className = "file";
        const size = a.size ? ` · ${Math.max(1, Math.round(a.size / 1024))} KB` : "";
        const label = document.createElement("span");
        label.className = "clip";   // the paperclip is drawn by chat.css
        label.textContent = `${a.name || a.kind}${size}`;
        f.append(label);
        if (link) {
          f.href = `/files/${stored}/${i + 1}`;
          f.target = "_blank";
          f.rel = "noopener";
          if (PICTURES.has(a.mime)) {
            const picture = document.createElement("img");
            picture.className = "picture";
            picture.src = f.href;
            picture.alt = a.name || "";
            picture.loading = "lazy";
            f.prepend(picture);
          }
        }
        files.append(f);
      });
      bubble.append(files);
    }
    row.append(bubble);
    if (message.buttons && message.buttons.length) row.append(buttons(message));
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = clock(message.at);
    if (author === "client" && message.channel && CHANNELS[message.channel]) meta.textContent += ` · ${CHANNELS[message.channel]}`;
    row.append(meta);
    const old = rows.get(message.id);
    if (!old && message.conversation_id) {   // where one closed conversation ends and the next begins
      if (lastConversation && message.conversation_id !== lastConversation) {
        const divider = document.createElement("div");
        divider.className = "divider";
        divider.textContent = t("new_conversation");
        list.append(divider);
      }
      lastConversation = message.conversation_id;
    }
    if (old) old.replaceWith(row); else list.append(row);
    rows.set(message.id, row);
    if (author !== "client") settleButtons(row);
    list.scrollTop = list.scrollHeight;
    return row;
  }
  function buttons(message) {
    const box = document.createElement("div");
    const rating = message.buttons.every((b) => b.action === "rate");
    box.className = rating ? "buttons rating" : "buttons";
    for (const b of message.buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = rating ? `${b.label}★` : b.label;
      button.title = b.label;
      button.addEventListener("click", () => {
        box.querySelectorAll("button").forEach((x) => { x.disabled = true; });
        submit({ type: "action", action: b.action, payload: b.payload, label: rating ? t("rated", { n: b.label }) : b.label });
      });
      box.append(button);
    }
    return box;
  }
  function settleButtons(latest) {
    // Only the newest bot or operator message keeps live buttons.
    list.querySelectorAll(".buttons").forEach((box) => {
      if (!latest.contains(box)) box.querySelectorAll("button").forEach((x) => { x.disabled = true; });
    });
  }
  function markFailed(id, text) {
    const row = rows.get(id);
    if (!row) return;
    row.classList.remove("pending");
    row.classList.add("failed");
    const meta = row.querySelector(".meta");
    meta.textContent = text;
    const message = pending.get(id);
    if (message && message.type === "message" && message.text.length <= MAX) {
      const retry = document.createElement("button");
      retry.className = "retry"; retry.type = "button"; retry.textContent = t("retry");
      retry.addEventListener("click", () => { row.classList.remove("failed"); row.classList.add("pending"); transmit(message); });
      meta.append(" ", retry);
    }
  }
  function showTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) { list.scrollTop = list.scrollHeight; typingTimer = setTimeout(() => { typing.hidden = true; }, 10000); }
  }

  // -- the socket ------------------------------------------------------------------------
  function setStatus(state) {
    statusBox.className = `status ${state}`;
    statusText.textContent = t(state === "online" ? "online" : state === "offline" ? "offline" : "connecting");
  }
  function connect() {
    setStatus("connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws`);
    socket.addEventListener("open", () => { attempt = 0; setStatus("online"); });
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      receive(frame);
    });
    socket.addEventListener("close", () => {
      setStatus("offline");
      const delay = Math.min(15000, 1000 * 2 ** attempt++) * (0.75 + Math.random() / 2);
      setTimeout(connect, delay);
    });
  }
  function receive(frame) {
    if (frame.type === "history") {
      rows.forEach((row) => row.remove());
      list.querySelectorAll(".divider").forEach((node) => node.remove());
      lastConversation = null;
      rows.clear();
      const stored = new Set(frame.messages.map((m) => m.id));
      for (const message of frame.messages) render(message);
      for (const message of [...pending.values()]) {
        if (stored.has(message.id)) { pending.delete(message.id); continue; }   // stored, ack was lost
        render({ ...message, author: "client" }, "pending");
        transmit(message);
      }
      savePending();
      maxFile = frame.files || 0;
      $("attach").hidden = !maxFile;
      if (!frame.messages.length && !pending.size) $("welcome").hidden = false;
      introducing(frame.prechat && !frame.messages.length && !pending.size && !intro);
    } else if (frame.type === "message") {
      const message = frame.message;
      if (message.author !== "client") showTyping(false);
      if (message.author === "client" && pending.has(message.id)) return;
      render(message);
    } else if (frame.type === "typing") {   // an operator is writing: shown until their message, or a while
      showTyping(true);
    } else if (frame.type === "ack") {
      const row = rows.get(frame.id);
      if (row) row.classList.remove("pending");
      if (row && frame.text !== undefined) {   // kept otherwise (a card number masked): shown so
        const bubble = row.querySelector(".bubble");
        const files = bubble.querySelector(".files");
        bubble.textContent = "";
        linkify(bubble, frame.text);
        if (files) bubble.append(files);
      }
      pending.delete(frame.id);
      savePending();
      if (intro && !intro.sent) { intro.sent = true; saveIntro(); }
      clearTimeout(typingTimer);   // a reply, if any, follows the ack at once
      typingTimer = setTimeout(() => { typing.hidden = true; }, 1500);
    } else if (frame.type === "error") {
      if (frame.code === "bad_email" && intro) { intro.email = ""; saveIntro(); }   // send the rest without it
      if (frame.id && pending.has(frame.id)) {
        if (frame.code === "not_stored") {
          setTimeout(() => { const m = pending.get(frame.id); if (m) transmit(m); }, 3000);
          return;
        }
        showTyping(false);
        markFailed(frame.id, errorText(frame));
        pending.delete(frame.id);
        savePending();
      } else {
        render({ id: `e${Date.now()}`, author: "system", text: errorText(frame) });
      }
    }
  }
  function errorText(frame) {
    return TEXTS[lang][frame.code] ? t(frame.code, { max: MAX }) : frame.error;
  }
  function transmit(message) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;   // sent after the reconnect
    const { label, attachments, ...frame } = message;
    socket.send(JSON.stringify(frame));
    showTyping(true);
  }
  function submit(fields) {
    const message = { id: uuid(), ...fields };
    if (intro && !intro.sent && (intro.name || intro.email)) message.intro = { name: intro.name, email: intro.email };
    pending.set(message.id, message);
    savePending();
    render({ ...message, author: "client", at: new Date().toISOString() }, "pending");
    transmit(message);
  }

  // -- the composer ----------------------------------------------------------------------
  function resize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
    const n = input.value.length;
    sendButton.disabled = !input.value.trim();
    counter.hidden = n < MAX * 0.8;
    counter.textContent = t("counter", { n, max: MAX });
    counter.classList.toggle("over", n >= MAX);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    submit({ type: "message", text });
    input.value = "";
    resize();
    input.focus();
  });
  input.addEventListener("input", resize);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  // the pre-chat form (a desk setting): an optional name and email before the first message
  function introducing(on) {
    document.querySelector(".chat").classList.toggle("introducing", on);
    $("prechat").hidden = !on;
    $("human").hidden = on;
    if (on) $("prechat-name").focus();
  }
  $("prechat-email").addEventListener("input", () => { $("prechat-error").hidden = true; });
  $("prechat").addEventListener("submit", (event) => {
    event.preventDefault();
    const email = $("prechat-email");
    if (email.value.trim() && !email.checkValidity()) {
      $("prechat-error").textContent = t("bad_email");
      $("prechat-error").hidden = false;
      email.focus();
      return;
    }
    intro = { name: $("prechat-name").value.trim(), email: email.value.trim(), sent: false };
    saveIntro();
    introducing(false);
    input.focus();
  });

  $("human").addEventListener("click", () => submit({ type: "action", action: "handoff", label: t("human") }));

  // -- files: uploaded first, then named in a message with whatever text is typed ----------
  $("attach").addEventListener("click", () => $("file").click());
  $("file").addEventListener("change", async () => {
    const file = $("file").files[0];
    $("file").value = "";
    if (!file) return;
    const mb = Math.floor(maxFile / (1024 * 1024));
    if (file.size > maxFile) {
      render({ id: `e${Date.now()}`, author: "system", text: t("file_too_big", { name: file.name, max: mb }) });
      return;
    }
    $("attach").disabled = true;
    try {
      const response = await fetch("/upload", { method: "POST", body: file, credentials: "same-origin" });
      if (!response.ok) throw new Error(response.status === 413 ? t("file_too_big", { name: file.name, max: mb }) : await response.text());
      const { file: digest } = await response.json();
      const named = { file: digest, name: file.name, mime: file.type };
      submit({ type: "message", text: input.value.trim(), files: [named], attachments: [{ kind: "document", name: file.name, size: file.size }] });
      input.value = "";
      resize();
    } catch (error) {
      render({ id: `e${Date.now()}`, author: "system", text: t("file_failed", { name: file.name, error: error.message }) });
    } finally {
      $("attach").disabled = false;
    }
  });

  resize();
  connect();
})();
