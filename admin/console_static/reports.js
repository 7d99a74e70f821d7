// Switchboard reports page: the desk's figures for a period, as numbers, a chart and tables.
"use strict";

(() => {
  const TEXTS = {
    ru: {
      console: "Консоль", reports: "Отчёты", today: "Сегодня", week: "7 дней", month: "30 дней", show: "Показать",
      summary: "Сводка", by_day: "По дням", csv: "CSV", denied: "Отчёты доступны только администраторам. Войдите в консоль.",
      failed: "Не удалось получить отчёт.",
      split_channel: "По каналам", split_category: "По категориям", split_group: "По группам", split_operator: "По операторам",
      k_conversations: "Обращений", k_frt: "Первый ответ, медиана", k_resolution: "Решение, медиана",
      k_sla: "SLA соблюдён", k_csat: "Оценка клиентов", k_bot: "Бот решил сам", k_off: "Вне рабочего времени",
      n_bot_pending: "ещё ждём: {n}", n_csat: "оценок: {n}", min: "мин",
      c_key: "", c_conversations: "Обращ.", c_handed_off: "Операторам", c_bot_resolution_pct: "Бот, %",
      c_off_hours_pct: "Вне часов, %", c_frt_median_min: "1-й ответ, мин", c_resolution_median_min: "Решение, мин",
      c_sla_compliance_pct: "SLA, %", c_csat_average: "Оценка", c_operator_minutes: "Мин операторов",
      none: "нет данных",
    },
    en: {
      console: "Console", reports: "Reports", today: "Today", week: "7 days", month: "30 days", show: "Show",
      summary: "Summary", by_day: "By day", csv: "CSV", denied: "Reports are for admins only. Sign in to the console.",
      failed: "Could not load the report.",
      split_channel: "By channel", split_category: "By category", split_group: "By group", split_operator: "By operator",
      k_conversations: "Conversations", k_frt: "First response, median", k_resolution: "Resolution, median",
      k_sla: "SLA kept", k_csat: "Client rating", k_bot: "Settled by the bot", k_off: "Out of hours",
      n_bot_pending: "pending: {n}", n_csat: "ratings: {n}", min: "min",
      c_key: "", c_conversations: "Conv.", c_handed_off: "To operators", c_bot_resolution_pct: "Bot, %",
      c_off_hours_pct: "Off-hours, %", c_frt_median_min: "FRT, min", c_resolution_median_min: "Resolution, min",
      c_sla_compliance_pct: "SLA, %", c_csat_average: "CSAT", c_operator_minutes: "Operator min",
      none: "no data",
    },
  };
  const COLUMNS = ["conversations", "handed_off", "bot_resolution_pct", "off_hours_pct", "frt_median_min",
    "resolution_median_min", "sla_compliance_pct", "csat_average", "operator_minutes"];
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
  const show = (v, suffix = "") => (v === null || v === undefined ? "—" : `${v}${suffix}`);
  let period = new URLSearchParams(location.search).get("period") || "week";

  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });

  function fail(text) { $("error").textContent = text; $("error").hidden = false; }

  async function load() {
    $("error").hidden = true;
    document.querySelectorAll("#periods button").forEach((b) => b.classList.toggle("active", b.dataset.period === period));
    const query = new URLSearchParams({ period, lang });
    let response;
    try {
      response = await fetch(`/operator/reports/data?${query}`);
    } catch { fail(t("failed")); return; }
    if (response.status === 403) { fail(t("denied")); return; }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) { fail(data.error || t("failed")); return; }
    render(data);
  }

  function kpi(label, value, note) {
    const box = el("div", "kpi");
    box.append(el("div", "label", label), el("div", "value", value));
    if (note) box.append(el("div", "note", note));
    return box;
  }

  function render(data) {
    const total = data.total;
    $("period-name").textContent = `${data.period.name} · ${data.period.zone}`;
    $("kpis").replaceChildren(
      kpi(t("k_conversations"), show(total.conversations)),
      kpi(t("k_frt"), show(total.frt_median_min, ` ${t("min")}`)),
      kpi(t("k_resolution"), show(total.resolution_median_min, ` ${t("min")}`)),
      kpi(t("k_sla"), show(total.sla_compliance_pct, "%")),
      kpi(t("k_csat"), total.csat_average == null ? "—" : total.csat_average.toFixed(1), t("n_csat", { n: total.csat_responses || 0 })),
      kpi(t("k_bot"), show(total.bot_resolution_pct, "%"), t("n_bot_pending", { n: data.bot_pending })),
      kpi(t("k_off"), show(total.off_hours_pct, "%")));
    $("summary").replaceChildren(...data.summary.slice(1).map((line) => el("li", null, line)));
    $("chart").src = data.chart;
    $("chart").alt = data.summary[0] || "";
    const splits = $("splits");
    splits.replaceChildren();
    for (const [by, rows] of Object.entries(data.splits)) splits.append(splitCard(by, rows, total));
  }

  function splitCard(by, rows, total) {
    const card = el("section", "card");
    card.dataset.split = by;
    const head = el("h2", null, t(`split_${by}`));
    head.append(el("span", "spacer"));
    const download = el("button", "secondary", t("csv"));
    download.type = "button";
    download.addEventListener("click", () => csv(by));
    head.append(download);
    card.append(head);
    if (!rows.length) { card.append(el("p", "muted", t("none"))); return card; }
    const wrap = el("div", "split-wrap");
    const table = el("table", "split");
    const tr = el("tr");
    tr.append(el("th", null, ""), ...COLUMNS.map((c) => el("th", null, t(`c_${c}`))));
    table.append(el("thead"));
    table.tHead.append(tr);
    const body = el("tbody");
    const most = Math.max(1, ...rows.map((r) => r.conversations || 0));
    for (const row of rows) {
      const line = el("tr");
      const key = el("td", "key", row.key === "None" ? "—" : row.label || row.key);
      key.title = row.key;
      line.append(key);
      for (const c of COLUMNS) {
        const cell = el("td", null, show(row[c]));
        if (c === "conversations") {
          const bar = el("span", "bar");
          bar.style.width = `${Math.round(48 * (row[c] || 0) / most)}px`;
          cell.append(bar);
        }
        line.append(cell);
      }
      body.append(line);
    }
    table.append(body);
    wrap.append(table);
    card.append(wrap);
    return card;
  }

  async function csv(by) {
    const query = new URLSearchParams({ period, by });
    const response = await fetch(`/operator/reports/csv?${query}`);
    if (!response.ok) { fail(response.status === 403 ? t("denied") : t("failed")); return; }
    const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const link = el("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = name ? name[1] : `report-${by}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  document.querySelectorAll("#periods button").forEach((button) => button.addEventListener("click", () => {
    period = button.dataset.period;
    history.replaceState(null, "", `?period=${period}`);
    load();
  }));
  $("range").addEventListener("submit", (event) => {
    event.preventDefault();
    period = `${$("since").value}..${$("until").value}`;
    history.replaceState(null, "", `?period=${encodeURIComponent(period)}`);
    load();
  });
  load();
})();
