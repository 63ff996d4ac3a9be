// deeper-cache admin page. Plain JavaScript, no dependencies, no build step.
// Talks to the JSON API next to it (relative URLs, so it works wherever the router is mounted).
// The bearer token lives in `state.token` only: never in storage, cookies or the URL.
// Every text from the server goes into the page through textContent, never as HTML.
"use strict";

(function () {
  // The API lives next to the page: one level up from this script (`assets/app.js`).
  const API = new URL("../api/v1/", document.currentScript.src).href;
  // Seconds between refreshes: `?refresh=N` in the page's URL (1 to 60), 3 by default.
  const REFRESH_MS =
    Math.min(60, Math.max(1, Number(new URLSearchParams(location.search).get("refresh")) || 3)) * 1000;
  const CHART_POINTS = 100;
  // On a backend that walks its keyspace to list namespaces (Redis), list them every Nth refresh.
  const NAMESPACE_EVERY = 10;

  const state = {
    token: "",
    who: null,
    timer: null,
    paused: false,
    ticks: 0,
    samples: [], // {hits, misses} of the total, one per refresh
    ratios: [], // hit ratio per interval, null where there were no reads
    backendKeys: new Map(), // namespace -> keys, from /namespaces
    namespacesComplete: true,
    browse: { ns: "default", pattern: "", limit: 100, cursors: [null], page: 0, next: null },
    selected: null, // {ns, key}
  };

  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "–");
  const pct = (r) => (r === null || r === undefined || Number.isNaN(r) ? "–" : (r * 100).toFixed(1) + " %");

  function bytes(n) {
    if (typeof n !== "number") return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let u = 0;
    let v = n;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u += 1;
    }
    return (u === 0 ? String(v) : v.toFixed(1)) + " " + units[u];
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "never expires";
    if (ms < 1000) return ms + " ms";
    let s = Math.floor(ms / 1000);
    const parts = [];
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]]) {
      if (s >= size) {
        parts.push(Math.floor(s / size) + " " + unit);
        s %= size;
      }
    }
    return parts.slice(0, 2).join(" ") + " (" + fmt(ms) + " ms)";
  }

  function evictionsOf(e) {
    return e ? e.ttl + e.manual + e.lru + e.lfu + e.capacity : 0;
  }

  function toast(text, isError) {
    const t = $("toast");
    t.textContent = text;
    t.className = isError ? "error" : "";
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, isError ? 8000 : 4000);
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (e) {
      throw new ApiError(0, "the admin interface does not answer (" + e.message + ")");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const message = data && data.error ? data.error : "HTTP " + response.status;
      if (response.status === 401) onUnauthorized(message);
      throw new ApiError(response.status, message);
    }
    return data;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
    }
    return q.toString();
  }

  // ---- access -------------------------------------------------------------------------

  function onUnauthorized(message) {
    stopRefresh();
    state.who = null;
    $("auth-status").textContent = message + " — enter a token.";
    $("identity").textContent = "not connected";
    $("overview").hidden = true;
    $("browser").hidden = true;
    $("disconnect").hidden = true;
  }

  async function connect(token) {
    state.token = token;
    $("auth-status").textContent = "connecting…";
    try {
      const who = await api("GET", "whoami");
      state.who = who;
      document.body.classList.toggle("role-read", who.role !== "admin");
      $("identity").textContent =
        "cache " + who.cache + " · backend " + who.backend + " · role " + who.role;
      $("auth-status").textContent =
        "Connected with the " + who.role + " role" +
        (who.role === "admin" ? "." : ": deleting needs an admin token.") +
        (who.show_values ? " Values are shown (admin.show_values)." : " Values are hidden (admin.show_values is off).");
      $("page-size").max = String(who.max_page_size);
      $("page-size").value = String(Math.min(who.default_page_size, who.max_page_size));
      $("overview").hidden = false;
      $("browser").hidden = false;
      $("disconnect").hidden = !state.token;
      state.samples = [];
      state.ratios = [];
      state.ticks = 0;
      await refresh();
      startRefresh();
      await search();
    } catch (e) {
      if (e.status !== 401) $("auth-status").textContent = e.message;
    }
  }

  // ---- statistics ---------------------------------------------------------------------

  function startRefresh() {
    stopRefresh();
    if (!state.paused) state.timer = setInterval(refresh, REFRESH_MS);
  }

  function stopRefresh() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  async function refresh() {
    if (!state.who) return;
    const listNamespaces = state.who.backend === "memory" || state.ticks % NAMESPACE_EVERY === 0;
    state.ticks += 1;
    try {
      const [stats, health, sup, names] = await Promise.all([
        api("GET", "stats"),
        api("GET", "health"),
        api("GET", "supervisor"),
        listNamespaces ? api("GET", "namespaces") : Promise.resolve(null),
      ]);
      if (names) {
        state.backendKeys = new Map(names.namespaces.map((n) => [n.name, n.keys]));
        state.namespacesComplete = names.complete;
      }
      renderStats(stats);
      renderHealth(health);
      renderSupervisor(sup, health);
      $("last-refresh").textContent = new Date().toLocaleTimeString();
    } catch (e) {
      if (e.status !== 401) {
        $("health").textContent = "admin API: " + e.message;
        $("health").className = "pill bad";
      }
    }
  }

  function renderStats(stats) {
    const t = stats.total;
    state.samples.push({ hits: t.hits, misses: t.misses });
    if (state.samples.length >= 2) {
      const a = state.samples[state.samples.length - 2];
      const b = state.samples[state.samples.length - 1];
      const dh = b.hits - a.hits;
      const dm = b.misses - a.misses;
      state.ratios.push(dh + dm > 0 ? dh / (dh + dm) : null);
    }
    if (state.samples.length > CHART_POINTS + 1) state.samples.shift();
    if (state.ratios.length > CHART_POINTS) state.ratios.shift();

    const memory = stats.backend === "memory";
    const totalItems = memory ? t.items : sum(state.backendKeys.values());
    $("total-hit-ratio").textContent = pct(t.hits + t.misses > 0 ? t.hit_ratio : null);
    $("total-items").textContent = fmt(totalItems) + (memory || state.namespacesComplete ? "" : "+");
    $("total-bytes").textContent = memory || stats.tiers ? bytes(t.bytes) : "–";
    $("total-evictions").textContent = fmt(evictionsOf(t.evictions));
    $("total-errors").textContent = fmt(t.errors);

    const names = new Set(Object.keys(stats.namespaces));
    for (const n of state.backendKeys.keys()) names.add(n);
    const body = $("ns-table").querySelector("tbody");
    const rows = [];
    for (const name of [...names].sort()) {
      const s = stats.namespaces[name] || { hits: 0, misses: 0, hit_ratio: 0, items: 0, bytes: 0, errors: 0 };
      const items = memory ? s.items : state.backendKeys.get(name) || 0;
      const tr = document.createElement("tr");
      tr.dataset.ns = name;
      cell(tr, name, "name");
      cell(tr, fmt(items), "num", "items");
      cell(tr, memory || stats.tiers ? bytes(s.bytes) : "–", "num", "bytes");
      cell(tr, fmt(s.hits), "num", "hits");
      cell(tr, fmt(s.misses), "num", "misses");
      cell(tr, pct(s.hits + s.misses > 0 ? s.hit_ratio : null), "num", "hit_ratio");
      cell(tr, fmt(evictionsOf(s.evictions)), "num", "evictions");
      cell(tr, fmt(s.errors), "num", "errors");
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary small-button";
      b.textContent = "Browse";
      b.setAttribute("aria-label", "Browse the keys of namespace " + name);
      b.addEventListener("click", () => {
        $("browse-ns").value = name;
        $("pattern").value = "";
        search().then(() => $("browser").scrollIntoView());
      });
      td.appendChild(b);
      tr.appendChild(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    $("ns-options").replaceChildren(
      ...[...names].sort().map((n) => {
        const o = document.createElement("option");
        o.value = n;
        return o;
      }),
    );
    drawChart();
  }

  function sum(values) {
    let s = 0;
    for (const v of values) s += v;
    return s;
  }

  function cell(tr, text, cls, field) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    if (field) td.dataset.field = field;
    tr.appendChild(td);
  }

  function renderHealth(h) {
    const el = $("health");
    let text;
    let cls;
    if (!h.live) {
      text = "down: the supervision tree is not running";
      cls = "bad";
    } else if (!h.ready) {
      text = "not ready: " + (h.backend_error || "breaker " + h.breaker);
      cls = "bad";
    } else if (h.tracking_live === false || h.breaker === "half_open") {
      text = h.tracking_live === false ? "ready, L1 invalidation stream down" : "ready, breaker half-open";
      cls = "warn";
    } else {
      text = "ready";
      cls = "ok";
    }
    el.textContent = "health: " + text;
    el.className = "pill " + cls;
    $("restarts").textContent = fmt(h.restarts);
  }

  function renderSupervisor(sup, h) {
    const dl = $("supervisor");
    dl.replaceChildren();
    const pairs = [
      ["Strategy", sup.strategy],
      ["Restarts", fmt(sup.restarts)],
      ["Children up", h.children_up + " of " + h.children],
      ["Backend", h.backend + (h.backend_reachable ? " (reachable)" : " (unreachable)")],
      ["Breaker", h.breaker || "–"],
      ["L1 tracking", h.tracking_live === null ? "–" : h.tracking_live ? "live" : "down"],
    ];
    for (const [k, v] of pairs) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = String(v);
      dl.append(dt, dd);
    }
    const rows = sup.children.map((c) => {
      const tr = document.createElement("tr");
      cell(tr, c.kind + (c.index ? " #" + c.index : ""));
      cell(tr, c.actor_id || "down");
      cell(tr, fmt(c.restarts), "num");
      return tr;
    });
    $("children-table").querySelector("tbody").replaceChildren(...rows);
  }

  function drawChart() {
    const canvas = $("chart");
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(200, canvas.clientWidth);
    const h = canvas.clientHeight || 160;
    if (canvas.width !== Math.round(w * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const css = getComputedStyle(document.documentElement);
    const line = css.getPropertyValue("--line").trim() || "#ccc";
    const accent = css.getPropertyValue("--accent").trim() || "#1f5fbf";
    const muted = css.getPropertyValue("--muted").trim() || "#666";
    const pad = { l: 40, r: 8, t: 8, b: 18 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = muted;
    ctx.strokeStyle = line;
    ctx.lineWidth = 1;
    for (const v of [0, 0.5, 1]) {
      const y = pad.t + ph * (1 - v);
      ctx.setLineDash(v === 0.5 ? [4, 4] : []);
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(w - pad.r, y);
      ctx.stroke();
      ctx.fillText(v * 100 + " %", 4, y + 4);
    }
    ctx.setLineDash([]);
    const pts = state.ratios;
    const step = pw / Math.max(1, CHART_POINTS - 1);
    const x0 = pad.l + pw - step * (pts.length - 1);
    ctx.strokeStyle = accent;
    ctx.fillStyle = accent;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let drawing = false;
    pts.forEach((r, i) => {
      const x = x0 + i * step;
      if (r === null) {
        drawing = false;
        return;
      }
      const y = pad.t + ph * (1 - r);
      if (drawing) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      drawing = true;
      if (pts.length < 30) ctx.fillRect(x - 2, y - 2, 4, 4);
    });
    ctx.stroke();
    canvas.dataset.points = String(pts.filter((r) => r !== null).length);
    const last = [...pts].reverse().find((r) => r !== null);
    $("chart-summary").textContent =
      last === undefined ? "No reads yet." : "Latest interval: " + pct(last) + ".";
    ctx.fillStyle = muted;
    ctx.fillText("now", w - pad.r - 22, h - 4);
    const span = (CHART_POINTS * REFRESH_MS) / 1000;
    ctx.fillText("−" + (span >= 120 ? Math.round(span / 60) + " min" : span + " s"), pad.l, h - 4);
  }

  // ---- key browser --------------------------------------------------------------------

  async function search() {
    const b = state.browse;
    b.ns = $("browse-ns").value.trim() || "default";
    b.pattern = $("pattern").value.trim();
    b.limit = parseInt($("page-size").value, 10) || 100;
    b.cursors = [null];
    b.page = 0;
    await loadPage();
  }

  async function loadPage() {
    const b = state.browse;
    const status = $("search-status");
    status.textContent = "searching…";
    try {
      const page = await api(
        "GET",
        "keys?" + query({ ns: b.ns, pattern: b.pattern, cursor: b.cursors[b.page], limit: b.limit }),
      );
      b.next = page.cursor;
      renderKeys(page.keys);
      const more = page.cursor ? " — more on the next page" : "";
      status.textContent =
        page.keys.length === 0 && !page.cursor && b.page === 0
          ? "No keys in namespace " + b.ns + (b.pattern ? " match " + b.pattern : "") + "."
          : "Page " + (b.page + 1) + ": " + page.keys.length + " key" + (page.keys.length === 1 ? "" : "s") +
            " in namespace " + b.ns + (b.pattern ? " matching " + b.pattern : "") + more + ".";
    } catch (e) {
      b.next = null;
      renderKeys([]);
      status.textContent = e.message;
    }
    $("prev-page").disabled = b.page === 0;
    $("next-page").disabled = !b.next;
  }

  function renderKeys(keys) {
    const items = keys.map((key) => {
      const li = document.createElement("li");
      const btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = key;
      btn.dataset.key = key;
      btn.addEventListener("click", () => {
        for (const other of $("keys").querySelectorAll("button[aria-current]")) other.removeAttribute("aria-current");
        btn.setAttribute("aria-current", "true");
        inspect(state.browse.ns, key);
      });
      li.appendChild(btn);
      return li;
    });
    $("keys").replaceChildren(...items);
  }

  async function inspect(ns, key) {
    state.selected = { ns, key };
    const meta = $("entry-meta");
    const value = $("entry-value");
    try {
      const e = await api("GET", "entry?" + query({ ns, key }));
      const pairs = [
        ["Namespace", e.namespace],
        ["Key", e.key],
        ["Kind", e.kind],
        ["Size", e.size === null ? "unknown" : bytes(e.size)],
      ];
      if (e.members !== null) pairs.push(["Members", fmt(e.members)]);
      pairs.push(["TTL", duration(e.ttl_ms)]);
      if (e.l1) {
        pairs.push(["L1 copy", e.l1.held ? "held, " + duration(e.l1.ttl_ms) : "not held"]);
        pairs.push(["L1 tracking", e.l1.tracking ? "live" : "down"]);
      }
      meta.replaceChildren();
      for (const [k, v] of pairs) {
        const dt = document.createElement("dt");
        dt.textContent = k;
        const dd = document.createElement("dd");
        dd.textContent = String(v);
        dd.dataset.field = k.toLowerCase();
        meta.append(dt, dd);
      }
      meta.hidden = false;
      if (e.value !== null && e.value !== undefined) {
        value.textContent = e.value + (e.value_truncated ? "\n… (cut at admin.max_value_bytes)" : "");
        value.hidden = false;
      } else {
        value.textContent = "";
        value.hidden = true;
      }
      $("entry-empty").hidden = true;
      $("delete-key").hidden = false;
    } catch (err) {
      meta.hidden = true;
      value.hidden = true;
      $("delete-key").hidden = true;
      $("entry-empty").hidden = false;
      $("entry-empty").textContent = err.status === 404 ? "The key " + key + " is gone (expired or deleted)." : err.message;
    }
  }

  function clearEntry() {
    state.selected = null;
    $("entry-meta").hidden = true;
    $("entry-value").hidden = true;
    $("delete-key").hidden = true;
    $("entry-empty").hidden = false;
    $("entry-empty").textContent = "Choose a key to see its metadata.";
  }

  // ---- deleting, behind a confirmation ------------------------------------------------

  function confirmAction(text, okLabel) {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
    });
  }

  async function afterDelete(message) {
    toast(message);
    state.ticks = 0; // list the namespaces again on the next refresh
    await Promise.all([refresh(), loadPage()]);
  }

  async function deleteKey() {
    const sel = state.selected;
    if (!sel) return;
    const ok = await confirmAction(
      "Delete the key “" + sel.key + "” from namespace “" + sel.ns + "”? This cannot be undone.",
      "Delete key",
    );
    if (!ok) return;
    try {
      const r = await api("DELETE", "entry?" + query({ ns: sel.ns, key: sel.key }));
      clearEntry();
      await afterDelete(r.deleted ? "Deleted " + sel.key + "." : sel.key + " was already gone.");
    } catch (e) {
      toast(e.message, true);
    }
  }

  async function deletePattern() {
    const ns = $("browse-ns").value.trim() || "default";
    const pattern = $("pattern").value.trim();
    if (!pattern) {
      toast("Enter a pattern first (to remove every key, use Clear namespace).", true);
      $("pattern").focus();
      return;
    }
    const ok = await confirmAction(
      "Delete every key of namespace “" + ns + "” matching “" + pattern + "”? This cannot be undone.",
      "Delete matching keys",
    );
    if (!ok) return;
    try {
      const r = await api("POST", "delete-pattern", { ns, pattern });
      clearEntry();
      state.browse.cursors = [null];
      state.browse.page = 0;
      await afterDelete("Removed " + fmt(r.removed) + " key" + (r.removed === 1 ? "" : "s") + " matching " + pattern + ".");
    } catch (e) {
      toast(e.message, true);
    }
  }

  async function clearNamespace() {
    const ns = $("browse-ns").value.trim() || "default";
    const ok = await confirmAction(
      "Remove every entry of namespace “" + ns + "”? This cannot be undone.",
      "Clear namespace",
    );
    if (!ok) return;
    try {
      const r = await api("POST", "clear", { ns });
      clearEntry();
      state.browse.cursors = [null];
      state.browse.page = 0;
      await afterDelete("Cleared " + ns + ": " + fmt(r.removed) + " removed.");
    } catch (e) {
      toast(e.message, true);
    }
  }

  async function purgeExpired() {
    try {
      const r = await api("POST", "purge-expired");
      await afterDelete("Purged " + fmt(r.removed) + " expired entr" + (r.removed === 1 ? "y" : "ies") + ".");
    } catch (e) {
      toast(e.message, true);
    }
  }

  // ---- wiring -------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("refresh-seconds").textContent = String(REFRESH_MS / 1000);
    $("auth-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      connect($("token").value.trim());
    });
    $("disconnect").addEventListener("click", () => {
      state.token = "";
      $("token").value = "";
      onUnauthorized("Token forgotten");
    });
    $("pause").addEventListener("click", () => {
      state.paused = !state.paused;
      $("pause").setAttribute("aria-pressed", String(state.paused));
      $("pause").textContent = state.paused ? "Resume" : "Pause";
      if (state.paused) stopRefresh();
      else startRefresh();
    });
    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      search();
    });
    $("next-page").addEventListener("click", () => {
      const b = state.browse;
      if (!b.next) return;
      b.cursors[b.page + 1] = b.next;
      b.cursors.length = b.page + 2;
      b.page += 1;
      loadPage();
    });
    $("prev-page").addEventListener("click", () => {
      const b = state.browse;
      if (b.page === 0) return;
      b.page -= 1;
      loadPage();
    });
    $("delete-key").addEventListener("click", deleteKey);
    $("delete-pattern").addEventListener("click", deletePattern);
    $("clear-ns").addEventListener("click", clearNamespace);
    $("purge-expired").addEventListener("click", purgeExpired);
    window.addEventListener("resize", drawChart);
    // A token-less loopback listener answers reads without a token: connect at once.
    connect("");
  });
})();
