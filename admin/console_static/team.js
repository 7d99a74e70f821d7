// Switchboard team page: admins invite operators, send sign-in links, disable, enable,
// and change roles, groups and capacity; the audit log below shows who did what.
"use strict";

(() => {
  const TEXTS = {
    ru: {
      console: "Консоль", reports: "Отчёты", team: "Команда", invite: "Пригласить оператора", name: "Имя",
      login_optional: "Логин (необязательно)", role: "Роль", role_operator: "Оператор", role_admin: "Администратор",
      capacity: "Разговоров одновременно", language: "Язык", groups: "Группы", invite_button: "Пригласить",
      copy: "Копировать", copied: "Скопировано", operators: "Операторы", audit: "Журнал",
      c_name: "Имя", c_login: "Логин", c_role: "Роль", c_groups: "Группы", c_capacity: "Ведёт сейчас",
      holds: "{n} из {cap}", p_online: "принимает", p_away: "отошёл(ла)", p_offline: "не в сети",
      c_state: "Статус", c_last: "Последний вход", c_at: "Когда", c_action: "Действие", c_operator: "Оператор",
      c_actor: "Кто", c_address: "Адрес", c_detail: "Подробности",
      active: "активен", disabled: "отключён", never: "не входил", server: "сервер", you: "вы",
      link: "Ссылка для входа", edit: "Изменить", disable: "Отключить", enable: "Включить", save: "Сохранить",
      cancel: "Отмена", confirm_disable: "Отключить {name}? Открытые сессии завершатся.",
      invited: "{name} приглашён(а). Ссылка показывается один раз — передайте её оператору:",
      bot_code: "Код для бота администраторов: {code} (отправьте боту /start {code})",
      invite_note: "Ссылка и код действуют {hours} ч и срабатывают один раз.",
      signin_link: "Одноразовая ссылка для входа {name} (действует 15 минут):",
      signed_out: "Войдите в консоль.", not_admin: "Управлять командой могут только администраторы.",
      failed: "Не получилось. Попробуйте ещё раз.",
      a_signed_in: "вход", a_sign_in_failed: "неудачный вход", a_signed_out: "выход",
      a_operator_added: "добавлен", a_operator_updated: "обновлён", a_operator_changed: "изменён",
      a_operator_disabled: "отключён", a_operator_enabled: "включён", a_password_set: "пароль задан",
      a_invite_issued: "приглашение", a_signin_issued: "ссылка для входа", a_invite_accepted: "принял приглашение",
      a_merge_undone: "слияние отменено", a_clients_merged: "клиенты объединены", a_client_forgotten: "клиент забыт", a_client_exported: "данные клиента выгружены",
      d_via: "через", d_login: "логин", d_role: "роль", d_groups: "группы", d_capacity: "разговоров одновременно",
      d_client: "клиент", d_clients: "клиенты", d_record: "запись", d_survivor: "остался клиент", d_merged: "присоединён клиент",
      d_note: "примечание", d_conversations: "разговоров", d_messages: "сообщений",
      v_password: "пароль", v_link: "одноразовую ссылку", v_console: "консоль", "v_admin bot": "бот администраторов",
      "v_local start": "локальный запуск", v_cli: "командную строку", v_admin: "администратор", v_operator: "оператор",
    },
    en: {
      console: "Console", reports: "Reports", team: "Team", invite: "Invite an operator", name: "Name",
      login_optional: "Login (optional)", role: "Role", role_operator: "Operator", role_admin: "Admin",
      capacity: "Conversations at once", language: "Language", groups: "Groups", invite_button: "Invite",
      copy: "Copy", copied: "Copied", operators: "Operators", audit: "Audit log",
      c_name: "Name", c_login: "Login", c_role: "Role", c_groups: "Groups", c_capacity: "Holding",
      holds: "{n} of {cap}", p_online: "available", p_away: "away", p_offline: "offline",
      c_state: "State", c_last: "Last sign-in", c_at: "When", c_action: "Action", c_operator: "Operator",
      c_actor: "By", c_address: "Address", c_detail: "Detail",
      active: "active", disabled: "disabled", never: "never", server: "server", you: "you",
      link: "Sign-in link", edit: "Edit", disable: "Disable", enable: "Enable", save: "Save",
      cancel: "Cancel", confirm_disable: "Disable {name}? Their open sessions end.",
      invited: "{name} is invited. The link is shown only once: pass it on to them:",
      bot_code: "Admin bot code: {code} (send /start {code} to the admin bot)",
      invite_note: "The link and the code last {hours} h and work once.",
      signin_link: "One-time sign-in link for {name} (15 minutes):",
      signed_out: "Sign in to the console.", not_admin: "Only admins manage the team.",
      failed: "That did not work. Try again.",
      a_signed_in: "signed in", a_sign_in_failed: "failed sign-in", a_signed_out: "signed out",
      a_operator_added: "added", a_operator_updated: "updated", a_operator_changed: "changed",
      a_operator_disabled: "disabled", a_operator_enabled: "enabled", a_password_set: "password set",
      a_invite_issued: "invited", a_signin_issued: "sign-in link", a_invite_accepted: "accepted the invite",
      a_merge_undone: "merge undone", a_clients_merged: "clients merged", a_client_forgotten: "client forgotten", a_client_exported: "client data exported",
      d_via: "via", d_login: "login", d_role: "role", d_groups: "groups", d_capacity: "conversations at once",
      d_client: "client", d_clients: "clients", d_record: "record", d_survivor: "kept client", d_merged: "merged client",
      d_note: "note", d_conversations: "conversations", d_messages: "messages",
      v_password: "password", v_link: "one-time link", v_console: "console", "v_admin bot": "admin bot",
      "v_local start": "local start", v_cli: "command line", v_admin: "admin", v_operator: "operator",
    },
  };
  const BY_THEMSELVES = ["signed_in", "sign_in_failed", "signed_out", "invite_accepted"];
  const lang = (navigator.languages || [navigator.language || "ru"])
    .some((l) => String(l).toLowerCase().startsWith("ru")) ? "ru" : "en";
  const t = (key, values = {}) =>
    (TEXTS[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : `{${k}}`));
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };
  const when = (iso) => (iso ? new Date(iso).toLocaleString(lang === "ru" ? "ru-RU" : "en-GB") : "");
  let team = { me: null, groups: [], operators: [], audit: [] };

  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });

  function fail(text) { $("error").textContent = text; $("error").hidden = false; }

  async function answer(response) {
    const data = await response.json().catch(() => ({}));
    if (response.status === 401) return { error: t("signed_out") };
    if (response.status === 403) return { error: data.error || t("not_admin") };
    if (!response.ok) return { error: data.error || t("failed") };
    return data;
  }

  async function load() {
    let data;
    try {
      data = await answer(await fetch(`/operator/team/data?lang=${lang}`));
    } catch { fail(t("failed")); return; }
    if (data.error) {
      fail(data.error);
      $("invite-card").hidden = true;
      return;
    }
    team = data;
    render();
  }

  async function post(path, body = {}) {
    $("error").hidden = true;
    let data;
    try {
      data = await answer(await fetch(`${path}?lang=${lang}`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      }));
    } catch { data = { error: t("failed") }; }
    if (data.error) fail(data.error);
    return data;
  }

  function groupBoxes(box, chosen) {
    box.querySelectorAll("label").forEach((node) => node.remove());
    for (const group of team.groups) {
      const label = el("label");
      const check = el("input");
      check.type = "checkbox";
      check.value = group;
      check.checked = check.defaultChecked = chosen.includes(group);
      label.append(check, document.createTextNode(group));
      box.append(label);
    }
  }
  const checked = (box) => [...box.querySelectorAll("input:checked")].map((node) => node.value);

  function issued(title, link, code, note) {
    $("issued-title").textContent = title;
    $("issued-link").value = link;
    $("issued-code").textContent = code || "";
    $("issued-code").hidden = !code;
    $("issued-note").textContent = note || "";
    $("issued").hidden = false;
    $("invite-card").scrollIntoView({ block: "nearest" });
  }

  function render() {
    if (!$("invite-groups").querySelector("label")) {
      groupBoxes($("invite-groups"), team.groups.includes("support") ? ["support"] : team.groups.slice(0, 1));
    }
    const table = $("operators");
    const head = el("tr");
    for (const c of ["c_name", "c_login", "c_role", "c_groups", "c_capacity", "c_state", "c_last", ""]) {
      head.append(el("th", null, c ? t(c) : ""));
    }
    const body = el("tbody");
    for (const operator of team.operators) body.append(row(operator));
    table.replaceChildren(el("thead"), body);
    table.tHead.append(head);

    const log = $("audit");
    const logHead = el("tr");
    for (const c of ["c_at", "c_action", "c_operator", "c_actor", "c_address", "c_detail"]) logHead.append(el("th", null, t(c)));
    const logBody = el("tbody");
    for (const entry of team.audit) {
      const line = el("tr");
      line.dataset.action = entry.action;
      const detail = Object.entries(entry.detail || {}).map(([k, v]) => `${detailName(k)}: ${detailValue(k, v)}`).join("; ");
      line.append(el("td", null, when(entry.at)), el("td", null, t(`a_${entry.action}`)),
        el("td", null, entry.operator || ""), el("td", null, entry.actor || (BY_THEMSELVES.includes(entry.action) ? "" : t("server"))),
        el("td", null, entry.address || ""), el("td", "detail", detail));
      logBody.append(line);
    }
    log.replaceChildren(el("thead"), logBody);
    log.tHead.append(logHead);
  }
  // An audit row's details in the page's language: "via: link" reads «через: одноразовую ссылку»,
  // a change [before, after] reads "before → after", client numbers read #N.
  const CLIENT_NUMBERS = ["client", "clients", "survivor", "merged"];
  const detailName = (key) => TEXTS[lang][`d_${key}`] ?? key;
  const word = (key, v) => (key === "via" || key === "role" ? TEXTS[lang][`v_${v}`] ?? String(v) : String(v));
  const fmt = (key, v) => {
    const one = (x) => (CLIENT_NUMBERS.includes(key) ? `#${x}` : word(key, x));
    return Array.isArray(v) ? v.map(one).join(", ") : one(v);
  };
  const detailValue = (key, v) =>
    key !== "clients" && Array.isArray(v) && v.length === 2 ? `${fmt(key, v[0])} → ${fmt(key, v[1])}` : fmt(key, v);

  function row(operator) {
    const line = el("tr", operator.active ? null : "disabled");
    line.dataset.operator = operator.id;
    const role = el("span", `badge ${operator.role}`, t(`role_${operator.role}`));
    const state = el("span", `badge ${operator.active ? "on" : "off"}`, t(operator.active ? "active" : "disabled"));
    const name = el("td", null, operator.name);
    if (operator.id === team.me) name.append(el("span", "detail", ` (${t("you")})`));
    line.append(name, el("td", null, operator.login || ""), el("td"), el("td", null, operator.groups.join(", ")),
      el("td", "holds", t("holds", { n: operator.holds, cap: operator.capacity })), el("td"),
      el("td", null, when(operator.last_sign_in) || t("never")));
    line.children[2].append(role);
    line.children[5].append(state);
    if (operator.active) line.children[5].append(" ", el("span", `badge presence ${operator.presence}`, t(`p_${operator.presence}`)));
    const actions = el("td", "actions");
    const button = (key, cls, work) => {
      const node = el("button", cls, t(key));
      node.type = "button";
      node.dataset.action = key;
      node.addEventListener("click", work);
      actions.append(node);
    };
    if (operator.active) {
      button("link", "secondary", async () => {
        const data = await post(`/operator/team/${operator.id}/link`);
        if (!data.error) { issued(t("signin_link", { name: operator.name }), data.link); await load(); }
      });
    }
    button("edit", "secondary", () => edit(line, operator));
    if (operator.active && operator.id !== team.me) {
      button("disable", "danger", async () => {
        if (!confirm(t("confirm_disable", { name: operator.name }))) return;
        if (!(await post(`/operator/team/${operator.id}/disable`)).error) await load();
      });
    } else if (!operator.active) {
      button("enable", "secondary", async () => {
        if (!(await post(`/operator/team/${operator.id}/enable`)).error) await load();
      });
    }
    line.append(actions);
    return line;
  }

  function edit(line, operator) {
    if (line.nextElementSibling && line.nextElementSibling.classList.contains("edit-row")) {
      line.nextElementSibling.remove();
      return;
    }
    const editing = el("tr", "edit-row");
    const cell = el("td");
    cell.colSpan = 8;
    const form = el("form", "team-form");
    const role = el("select");
    role.name = "role";
    for (const value of ["operator", "admin"]) {
      const option = el("option", null, t(`role_${value}`));
      option.value = value;
      option.selected = value === operator.role;
      role.append(option);
    }
    const capacity = el("input");
    capacity.type = "number"; capacity.min = "1"; capacity.max = "50"; capacity.name = "capacity";
    capacity.value = String(operator.capacity);
    const groups = el("fieldset", "groups");
    groups.append(el("legend", null, t("groups")));
    groupBoxes(groups, operator.groups);
    const labelled = (key, input) => { const label = el("label"); label.append(el("span", null, t(key)), input); return label; };
    const save = el("button", "primary", t("save"));
    save.type = "submit";
    const cancel = el("button", "secondary", t("cancel"));
    cancel.type = "button";
    cancel.addEventListener("click", () => editing.remove());
    form.append(labelled("role", role), labelled("capacity", capacity), groups, save, cancel);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = await post(`/operator/team/${operator.id}/change`, {
        role: role.value, capacity: Number(capacity.value), groups: checked(groups),
      });
      if (!data.error) await load();
    });
    cell.append(form);
    editing.append(cell);
    line.after(editing);
  }

  $("invite").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const field = (name) => form.querySelector(`[name="${name}"]`).value;
    const data = await post("/operator/team/invite", {
      name: field("name"), login: field("login"), role: field("role"), capacity: Number(field("capacity")),
      language: field("language"), groups: checked($("invite-groups")),
    });
    if (data.error) return;
    issued(t("invited", { name: data.operator.name }), data.link, t("bot_code", { code: data.bot_code }),
      t("invite_note", { hours: data.hours }));
    form.reset();
    await load();
  });
  $("copy-link").addEventListener("click", async () => {
    $("issued-link").select();
    try { await navigator.clipboard.writeText($("issued-link").value); } catch { document.execCommand("copy"); }
    $("copy-link").textContent = t("copied");
    setTimeout(() => { $("copy-link").textContent = t("copy"); }, 1500);
  });
  load();
})();
