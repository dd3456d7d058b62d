// adxbot dashboard: keeps the server-rendered pages fresh from the JSON API (no reload),
// draws the charts with plotly.js, and asks for confirmation before every action.
// Data is always inserted as text (never as HTML).
"use strict";

(() => {
  const body = document.body;
  const page = body.dataset.page;
  const refreshMs = Math.max(1, Number(body.dataset.refresh || 5)) * 1000;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  // ------------------------------------------------------------------ helpers
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === "") continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function utc(ms) {
    if (ms === null || ms === undefined) return "";
    return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
  }

  function money(text, signed) {
    if (text === null || text === undefined) return "";
    const value = Number(text);
    if (!Number.isFinite(value)) return String(text);
    const shown = Math.abs(value).toLocaleString("en-US", {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    const sign = value < 0 ? "-" : signed ? "+" : "";
    return sign + shown;
  }

  function pnlClass(text) {
    const value = Number(text);
    return value > 0 ? "pos" : value < 0 ? "neg" : "";
  }

  function replace(id, ...nodes) {
    const target = document.getElementById(id);
    if (target) target.replaceChildren(...nodes.flat());
  }

  function table(headers, rows, empty, numeric) {
    if (!rows.length) return h("p", { class: "empty" }, empty);
    const cell = (tag, i, content) => h(tag, numeric.has(i) ? { class: "num" } : {}, content);
    return h(
      "table",
      {},
      h("thead", {}, h("tr", {}, headers.map((text, i) => cell("th", i, text)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((content, i) => cell("td", i, content))))),
    );
  }

  function dl(pairs) {
    return h("dl", {}, pairs.flatMap(([key, value]) => [h("dt", {}, key), h("dd", {}, value)]));
  }

  function signedSpan(text, suffix) {
    return h("span", { class: pnlClass(text) }, money(text, true) + (suffix || ""));
  }

  function sideSpan(direction) {
    return h("span", { class: `side side-${direction}` }, direction.toUpperCase());
  }

  class LoggedOut extends Error {}

  function detailOf(data, response) {
    const detail = Array.isArray(data.detail)
      ? data.detail.map((d) => `${(d.loc || []).slice(-1)[0] || ""}: ${d.msg}`).join("; ")
      : data.detail;
    return detail || `${response.status} ${response.statusText}`;
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (response.status === 401) throw new LoggedOut();
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(detailOf(data, response));
    return data;
  }

  async function postJson(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(payload),
    });
    if (response.status === 401) throw new LoggedOut();
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(detailOf(data, response));
    return data;
  }

  function toLogin() {
    window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
  }

  function showPageError(message) {
    const box = document.getElementById("page-error");
    if (!box) return;
    box.hidden = !message;
    box.textContent = message || "";
  }

  // ------------------------------------------------------------------ status (every page)
  function botState(status) {
    const bot = status.bot;
    const age = bot.heartbeat_age_s;
    const ago = age === null ? "never" : `${age} s ago`;
    if (bot.state === "running") return [`running, heartbeat ${ago}`, "ok"];
    if (bot.state === "not_responding") return [`NOT RESPONDING, last heartbeat ${ago}`, "bad"];
    return [(bot.status ? "stopped" : "has not run yet") + (age === null ? "" : `, last heartbeat ${ago}`), "idle"];
  }

  function renderBanner(status) {
    const [text] = botState(status);
    const halted = status.trading_state === "halted";
    replace("bot-state", `bot ${text} · trading ${halted ? "HALTED" : "ACTIVE"}`);
  }

  function cards(status) {
    const [state, css] = botState(status);
    const halted = status.trading_state === "halted";
    const tripped = status.breakers.filter((b) => b.tripped).map((b) => b.name);
    const account = status.account;
    const card = (title, content, extra) =>
      h("div", { class: "card" + (extra ? ` ${extra}` : "") }, h("h3", {}, title), content);
    return [
      card(
        "Bot",
        dl([
          ["state", h("strong", { class: css }, state)],
          ["environment", status.environment],
          ["last candle", utc(status.last_candle_ms) || "none yet"],
          ["last price", status.last_price || "unknown"],
        ]),
      ),
      card(
        "Trading",
        [
          h("p", { class: `big ${halted ? "bad" : "ok"}` }, halted ? "HALTED" : "ACTIVE"),
          h("p", {}, tripped.length ? `by ${tripped.join(", ")}` : "no breaker tripped"),
        ],
        halted ? "bad" : "",
      ),
      card(
        "Account (database)",
        account === null
          ? h("p", {}, "no equity recorded yet")
          : dl([
              ["balance", `${money(account.balance)} USDT`],
              ["equity", `${money(account.equity)} USDT`],
              ["unrealised", signedSpan(account.unrealized_pnl)],
              ["at", utc(account.time_ms)],
            ]),
      ),
      card("Exchange", exchange(status)),
      card("Today (UTC)", today(status)),
    ];
  }

  function exchange(status) {
    const seen = status.exchange;
    if (status.dashboard.mode !== "live") return h("p", {}, "paper mode: the account is simulated inside the bot");
    if (seen === null) return h("p", {}, "no API key: the dashboard cannot read the account");
    if (!seen.available) return h("p", { class: "bad" }, seen.error);
    const held = seen.positions.map((p) => `${p.direction} ${p.quantity}`).join(", ") || "none";
    return dl([
      ["balance", `${money(seen.balance)} USDT`],
      ["equity", `${money(seen.equity)} USDT`],
      ["vs database", seen.equity_difference === null ? "" : `${money(seen.equity_difference, true)} USDT`],
      ["positions", held],
    ]);
  }

  function today(status) {
    const day = status.today;
    if (!("realized_pnl" in day)) return h("p", {}, `${day.day}: no trading recorded`);
    return dl([
      ["day", day.day],
      ["realised", signedSpan(day.realized_pnl, " USDT")],
      ["equity change", signedSpan(day.equity_change, " USDT")],
      ["fees", `${money(day.fees)} USDT`],
      ["trades", String(day.trades)],
    ]);
  }

  function positions(status) {
    return table(
      ["side", "quantity", "entry", "stop-loss", "take-profit", "unrealised P&L", "opened (UTC)"],
      status.positions.map((p) => [
        sideSpan(p.direction),
        p.quantity,
        p.entry_price,
        p.stop_loss ? p.stop_loss : h("span", { class: "bad" }, "NONE"),
        p.take_profit || "none",
        p.unrealized_pnl === null ? "? (no price yet)" : signedSpan(p.unrealized_pnl),
        utc(p.opened_ms),
      ]),
      "none",
      new Set([1, 2, 3, 4, 5]),
    );
  }

  function breakers(status) {
    return table(
      ["breaker", "state", "since (UTC)", "reason", ""],
      status.breakers.map((b) => [
        b.name,
        b.tripped ? h("strong", { class: "bad" }, "TRIPPED") : h("span", { class: "ok" }, "OK"),
        utc(b.since_ms),
        b.reason || "",
        b.tripped ? h("button", { type: "button", class: "reset", "data-breaker": b.name }, "Reset") : "",
      ]),
      "",
      new Set(),
    );
  }

  function eventsTable(events, empty) {
    return table(
      ["time (UTC)", "severity", "kind", "message"],
      events.map((e) => [
        utc(e.time_ms),
        h("span", { class: `sev sev-${e.severity}` }, e.severity.toUpperCase()),
        e.kind,
        e.message,
      ]),
      empty,
      new Set(),
    );
  }

  async function refreshStatus() {
    const status = await getJson("/api/status");
    renderBanner(status);
    if (page === "overview") {
      replace("cards", cards(status));
      replace("positions", positions(status));
      replace("breakers", breakers(status));
      replace("warnings", eventsTable(status.events, "none"));
    }
  }

  // ------------------------------------------------------------------ chart
  const DARK = "#1d2430";

  function markerTrace(markers, kind, direction, name, symbol, color) {
    const chosen = markers.filter((m) => m.kind === kind && (direction === null || m.direction === direction));
    return {
      type: "scatter",
      mode: "markers",
      name,
      x: chosen.map((m) => new Date(m.time_ms).toISOString()),
      y: chosen.map((m) => m.price),
      text: chosen.map((m) => `${m.kind} ${m.direction}${m.note ? ` (${m.note})` : ""}`),
      hoverinfo: "text+y",
      marker: { symbol, size: 12, color, line: { width: 1, color: DARK } },
      xaxis: "x",
      yaxis: "y",
    };
  }

  async function refreshChart() {
    const select = document.getElementById("candle-count");
    const data = await getJson(`/api/candles?limit=${encodeURIComponent(select ? select.value : 300)}`);
    const problem = [data.error, data.markers_error].filter(Boolean).join(" · ");
    const box = document.getElementById("chart-error");
    box.hidden = !problem;
    box.textContent = data.error ? `The chart has no candles: ${problem}` : problem;
    replace("chart-source", `${data.symbol} ${data.timeframe} from ${data.environment}`);
    const target = document.getElementById("price-chart");
    if (!data.time_ms.length) {
      window.Plotly.purge(target);
      return;
    }
    const times = data.time_ms.map((t) => new Date(t).toISOString());
    const traces = [
      {
        type: "candlestick",
        name: data.symbol,
        x: times,
        open: data.open,
        high: data.high,
        low: data.low,
        close: data.close,
        increasing: { line: { color: "#0a7d3b" } },
        decreasing: { line: { color: "#c0161b" } },
        xaxis: "x",
        yaxis: "y",
      },
      markerTrace(data.markers, "entry", "long", "long entry", "triangle-up", "#0a7d3b"),
      markerTrace(data.markers, "entry", "short", "short entry", "triangle-down", "#c0161b"),
      markerTrace(data.markers, "exit", null, "exit", "x", DARK),
      { type: "scatter", mode: "lines", name: "ADX", x: times, y: data.adx, line: { color: DARK, width: 2 }, xaxis: "x", yaxis: "y2" },
      { type: "scatter", mode: "lines", name: "+DI", x: times, y: data.plus_di, line: { color: "#0a7d3b", width: 1 }, xaxis: "x", yaxis: "y2" },
      { type: "scatter", mode: "lines", name: "−DI", x: times, y: data.minus_di, line: { color: "#c0161b", width: 1 }, xaxis: "x", yaxis: "y2" },
    ];
    const layout = {
      margin: { l: 60, r: 20, t: 20, b: 40 },
      showlegend: true,
      legend: { orientation: "h", y: 1.04 },
      xaxis: { type: "date", rangeslider: { visible: false }, range: [times[0], times[times.length - 1]] },
      yaxis: { domain: [0.34, 1], title: { text: "price" } },
      yaxis2: { domain: [0, 0.26], title: { text: `ADX/DI (${data.adx_period})` }, rangemode: "tozero" },
      shapes: [
        {
          type: "line", xref: "paper", x0: 0, x1: 1, yref: "y2",
          y0: data.adx_threshold, y1: data.adx_threshold,
          line: { dash: "dot", color: "#667085", width: 1 },
        },
      ],
      uirevision: "keep",
    };
    window.Plotly.react(target, traces, layout, { displaylogo: false, responsive: true });
  }

  // ------------------------------------------------------------------ equity
  async function refreshEquity() {
    const view = await getJson("/api/equity");
    const latest = view.latest;
    replace(
      "equity-summary",
      dl([
        ["snapshots", String(view.count)],
        ["latest equity", latest === null ? "" : `${money(latest.equity)} USDT`],
        ["peak shown", view.peak ? `${money(view.peak)} USDT` : ""],
        ["max drawdown shown", `${Number(view.max_drawdown_percent).toFixed(2)} %`],
      ]),
    );
    const target = document.getElementById("equity-chart");
    if (!view.points.length) {
      window.Plotly.purge(target);
      replace("equity-chart", h("p", { class: "empty" }, "no equity recorded yet"));
      return;
    }
    const times = view.points.map((p) => new Date(p.time_ms).toISOString());
    const traces = [
      { type: "scatter", mode: "lines", name: "equity", x: times, y: view.points.map((p) => Number(p.equity)), line: { color: "#1f5fbf", width: 2 }, yaxis: "y" },
      { type: "scatter", mode: "lines", name: "balance", x: times, y: view.points.map((p) => Number(p.balance)), line: { color: "#667085", width: 1, dash: "dot" }, yaxis: "y" },
      { type: "scatter", mode: "lines", name: "drawdown %", x: times, y: view.points.map((p) => -Number(p.drawdown_percent)), fill: "tozeroy", line: { color: "#c0161b", width: 1 }, yaxis: "y2" },
    ];
    const layout = {
      margin: { l: 60, r: 20, t: 20, b: 40 },
      legend: { orientation: "h", y: 1.04 },
      xaxis: { type: "date" },
      yaxis: { domain: [0.34, 1], title: { text: "USDT" } },
      yaxis2: { domain: [0, 0.26], title: { text: "drawdown %" } },
      uirevision: "keep",
    };
    window.Plotly.react(target, traces, layout, { displaylogo: false, responsive: true });
  }

  // ------------------------------------------------------------------ trades, events
  async function refreshTrades() {
    const view = await getJson("/api/trades" + location.search);
    const rate = view.win_rate_percent;
    replace(
      "trades-summary",
      `${view.count} trade(s), net P&L `,
      signedSpan(view.net_pnl, " USDT"),
      rate === null ? "" : `, ${rate}% winners`,
    );
    replace(
      "trades",
      table(
        ["exit (UTC)", "side", "quantity", "entry", "exit", "reason", "net P&L", "fees", "entry (UTC)"],
        view.trades.map((t) => [
          utc(t.exit_time_ms),
          sideSpan(t.direction),
          t.quantity,
          t.entry_price,
          t.exit_price,
          t.exit_reason,
          signedSpan(t.pnl),
          money(t.fees),
          utc(t.entry_time_ms),
        ]),
        "no closed trade matches",
        new Set([2, 3, 4, 6, 7]),
      ),
    );
  }

  async function refreshEvents() {
    const params = new URLSearchParams(location.search);
    const query = new URLSearchParams();
    for (const key of ["kind", "severity"]) if (params.get(key)) query.set(key, params.get(key));
    const data = await getJson("/api/events?" + query.toString());
    replace("events", eventsTable(data.events, "no event matches"));
  }

  // ------------------------------------------------------------------ actions
  function showResult(message, ok) {
    const box = document.getElementById("action-result");
    if (box) {
      box.textContent = message;
      box.className = "result" + (ok ? "" : " bad");
    } else {
      window.alert(message);
    }
  }

  async function act(url, question, button) {
    if (!window.confirm(question)) {
      showResult("cancelled: nothing was done", true);
      return;
    }
    if (button) button.disabled = true;
    showResult("working…", true);
    try {
      const result = await postJson(url, { confirm: true });
      showResult(result.message, result.ok);
    } catch (error) {
      if (error instanceof LoggedOut) return toLogin();
      showResult(`refused: ${error.message}`, false);
    } finally {
      if (button) button.disabled = false;
      tick();
    }
  }

  function wireActions() {
    const stop = document.getElementById("emergency-stop");
    if (stop) {
      stop.addEventListener("click", () => {
        const live = body.classList.contains("mode-live");
        const question = live
          ? "EMERGENCY STOP: close ALL positions at market and cancel ALL orders now? New entries stay halted until manual_halt is reset."
          : "EMERGENCY STOP (paper): halt new entries now (manual_halt)?";
        act("/api/actions/emergency-stop", question, stop);
      });
    }
    const table = document.getElementById("breakers");
    if (table) {
      table.addEventListener("click", (event) => {
        const button = event.target.closest("button.reset");
        if (!button) return;
        const name = button.dataset.breaker;
        act(
          `/api/actions/breakers/${encodeURIComponent(name)}/reset`,
          `Reset circuit breaker ${name}? New entries may resume.`,
          button,
        );
      });
    }
    const logout = document.getElementById("logout");
    if (logout) {
      logout.addEventListener("click", async () => {
        await fetch("/logout", { method: "POST", headers: { "X-CSRF-Token": csrf } });
        window.location.assign("/login");
      });
    }
    const count = document.getElementById("candle-count");
    if (count) count.addEventListener("change", () => tick());
  }

  // ------------------------------------------------------------------ refresh loop
  const refreshers = {
    overview: [refreshStatus],
    chart: [refreshStatus, refreshChart],
    equity: [refreshStatus, refreshEquity],
    trades: [refreshStatus, refreshTrades],
    events: [refreshStatus, refreshEvents],
  };
  let running = false;

  async function tick() {
    if (running) return;
    running = true;
    try {
      for (const refresh of refreshers[page] || []) await refresh();
      showPageError("");
      replace("refreshed", `updated ${new Date().toISOString().slice(11, 19)} UTC`);
    } catch (error) {
      if (error instanceof LoggedOut) return toLogin();
      showPageError(`Refresh failed: ${error.message}`);
    } finally {
      running = false;
    }
  }

  wireActions();
  tick();
  window.setInterval(() => {
    if (!document.hidden) tick();
  }, refreshMs);
})();
