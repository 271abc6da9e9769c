// The demo page: two WebSockets that come back after a server restart (exponential
// backoff with jitter), a chat room per path, notifications and job progress. A job
// reports to its group; after a reconnect the page asks to follow its unfinished jobs,
// and hears where each one got to meanwhile. A job's bar never stops without a word: a
// job reported lost says why, and one with no news for a while says it has stalled.
"use strict";

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 10000;

/** A WebSocket that reconnects itself after it closes, until close() is called. */
class ReconnectingSocket {
  constructor(path, { onMessage, onChange }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onChange = onChange;
    this.attempt = 0;
    this.state = "connecting"; // connecting | open | waiting | closed
    this.retryAt = 0;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.open();
  }

  open() {
    clearTimeout(this.timer);
    const url = new URL(this.path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setState("connecting");
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("open");
    };
    ws.onmessage = (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(data);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) {
        this.setState("closed");
        return;
      }
      if (navigator.onLine === false) {
        // No network: no point in retrying until it is back (the "online" event).
        this.retryAt = Infinity;
        this.setState("waiting");
        return;
      }
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.attempt);
      const jittered = delay * (0.8 + Math.random() * 0.4);
      this.attempt += 1;
      this.retryAt = Date.now() + jittered;
      this.timer = setTimeout(() => this.open(), jittered);
      this.setState("waiting");
    };
  }

  /** Try again now (the network came back, or the user asked). */
  retryNow() {
    if (this.state === "waiting") this.open();
  }

  send(data) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(data));
      return true;
    }
    return false;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
    else this.setState("closed");
  }

  setState(state) {
    this.state = state;
    this.onChange();
  }
}

const $ = (selector) => document.querySelector(selector);
const params = new URLSearchParams(location.search);
const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};
const clock = () => new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

const ui = {
  room: params.get("room") || "lobby",
  name: params.get("name") || localStorage.getItem("fc-demo-name") || `guest-${Math.floor(Math.random() * 9000 + 1000)}`,
  me: null, // this page's channel in the chat room
  eventsChannel: null, // this page's channel for notifications and jobs
  following: new Set(), // ids of the jobs started here that have not reported done or lost
  staleAfter: 0, // seconds without news after which a running job shows "stalled"
  chat: null,
  events: null,
};

// -- connection state ----------------------------------------------------------------

function sockets() {
  return [ui.chat, ui.events].filter(Boolean);
}

function renderStatus() {
  const all = sockets();
  const status = $("#status");
  let state = "open";
  let text = "connected";
  if (all.some((s) => s.state === "waiting")) {
    const retryAt = Math.min(...all.filter((s) => s.state === "waiting").map((s) => s.retryAt));
    const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    state = "reconnecting";
    if (retryAt === Infinity) {
      text = "offline: waiting for the network…";
      if (navigator.onLine) all.forEach((s) => s.retryNow()); // missed the "online" event
    } else {
      text = seconds > 0 ? `reconnecting in ${seconds}s…` : "reconnecting…";
    }
  } else if (all.length < 2 || all.some((s) => s.state !== "open")) {
    state = "connecting";
    text = "connecting…";
  }
  if (status.dataset.state !== state && state === "open") loadInfo();
  status.dataset.state = state;
  $("#status-text").textContent = text;
}
setInterval(renderStatus, 500);
window.addEventListener("online", () => sockets().forEach((s) => s.retryNow()));

async function loadInfo() {
  try {
    const response = await fetch("/info");
    if (!response.ok) return;
    const info = await response.json();
    $("#layer").textContent = `layer: ${info.layer}`;
    $("#layer").dataset.layer = info.layer;
    $("#jobs-where").textContent = `${info.jobs}, web server is pid ${info.pid}`;
  } catch {
    // the server is down: the status pill says so already
  }
}

// -- chat ------------------------------------------------------------------------------

function addLine(kind, parts) {
  const list = $("#messages");
  const item = el("li", `msg ${kind}`);
  if (kind === "presence" || kind === "system") {
    item.append(el("span", "text", parts.text));
  } else {
    const head = el("div", "meta");
    head.append(el("span", "author", parts.author), el("span", "time", clock()));
    item.append(head, el("div", "text", parts.text));
  }
  list.append(item);
  list.scrollTop = list.scrollHeight;
}

function onChat(data) {
  if (data.kind === "welcome") {
    ui.me = data.you;
  } else if (data.kind === "chat") {
    addLine(data.sender === ui.me ? "chat mine" : "chat", data);
  } else if (data.kind === "presence") {
    addLine("presence", data);
  }
}

function joinRoom(room) {
  if (ui.chat) ui.chat.close();
  ui.room = room;
  ui.me = null;
  $("#room").value = room;
  $("#room-title").textContent = `#${room}`;
  $("#messages").replaceChildren();
  const url = new URL(location.href);
  url.searchParams.set("room", room);
  history.replaceState(null, "", url);
  const path = `/ws/chat/${encodeURIComponent(room)}?name=${encodeURIComponent(ui.name)}`;
  ui.chat = new ReconnectingSocket(path, { onMessage: onChat, onChange: renderStatus });
}

$("#room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = $("#room").value.trim().toLowerCase();
  if (room && room !== ui.room && $("#room").checkValidity()) joinRoom(room);
});

$("#name").addEventListener("change", () => {
  const name = $("#name").value.trim();
  if (!name || name === ui.name) return;
  ui.name = name;
  localStorage.setItem("fc-demo-name", name);
  joinRoom(ui.room);
});

$("#chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("#text").value.trim();
  if (!text) return;
  if (ui.chat.send({ author: ui.name, text })) {
    $("#text").value = "";
  } else {
    toast("Not connected yet: the message was not sent.");
  }
});

// -- notifications and jobs -----------------------------------------------------------

function toast(text) {
  const item = el("div", "toast", text);
  $("#toasts").append(item);
  setTimeout(() => item.remove(), 4000);
}

function onNotification(text) {
  const item = el("li", "notification");
  item.append(el("span", "time", clock()), el("span", "text", text));
  $("#notifications").prepend(item);
  toast(`🔔 ${text}`);
}

function findJobRow(job) {
  return document.querySelector(`#jobs li[data-job="${CSS.escape(job)}"]`);
}

function jobRow(job) {
  let row = findJobRow(job);
  if (!row) {
    row = el("li", "job");
    row.dataset.job = job;
    row.dataset.percent = "0";
    row.dataset.state = "queued";
    row.heardAt = Date.now();
    const head = el("div", "job-head");
    head.append(el("span", "job-name", `job ${job}`), el("span", "percent", "queued"));
    const bar = el("div", "bar");
    bar.append(el("div", "fill"));
    row.append(head, bar, el("div", "worker", "waiting for a worker…"));
    $("#jobs").prepend(row);
  }
  return row;
}

const FINAL_STATES = new Set(["done", "lost"]);

function onJob(data) {
  const row = jobRow(data.job);
  if (FINAL_STATES.has(row.dataset.state)) return;
  const state = data.state || (data.done ? "done" : "running");
  // A step older than the one shown: heard after the latest one a reconnect sent.
  if (state !== "lost" && data.percent < Number(row.dataset.percent)) return;
  row.dataset.percent = String(data.percent);
  row.dataset.state = state;
  row.heardAt = Date.now() - (Number(data.age) || 0) * 1000;
  row.classList.remove("stalled");
  const label = row.querySelector(".percent");
  const note = row.querySelector(".worker");
  row.querySelector(".fill").style.width = `${data.percent}%`;
  if (state === "lost") {
    label.textContent = `lost at ${data.percent}%`;
    note.textContent = data.reason || "this job will not finish";
  } else if (state === "queued") {
    label.textContent = "queued";
    note.textContent = "waiting for a worker…";
  } else {
    label.textContent = `${data.percent}%`;
    note.textContent = `run by ${data.worker}`;
  }
  row.classList.toggle("lost", state === "lost");
  row.classList.toggle("done", data.percent >= 100);
  if (FINAL_STATES.has(state)) ui.following.delete(data.job);
}

/** Say so when a job has not been heard of for a while: its worker may be gone. */
function checkStalled() {
  if (!ui.staleAfter || !ui.events || ui.events.state !== "open") return;
  for (const job of ui.following) {
    const row = findJobRow(job);
    if (!row || FINAL_STATES.has(row.dataset.state)) continue;
    const quiet = (Date.now() - row.heardAt) / 1000;
    if (quiet <= ui.staleAfter) continue;
    row.classList.add("stalled");
    row.querySelector(".percent").textContent = `stalled at ${row.dataset.percent}%`;
    row.querySelector(".worker").textContent =
      row.dataset.state === "queued"
        ? `no worker has taken it for ${Math.round(quiet)}s: is the worker running?`
        : `no news for ${Math.round(quiet)}s: its worker may have stopped, and the job may be lost`;
  }
}
setInterval(checkStalled, 500);

function onHello(data) {
  ui.eventsChannel = data.channel;
  ui.staleAfter = Number(data.stale_after) || 0;
  // A new connection (a reconnect): join the groups of the jobs still running again; each
  // one's latest news comes back, with its age, so the silence before does not count.
  if (!ui.following.size) return;
  for (const job of ui.following) {
    const row = findJobRow(job);
    if (row) row.heardAt = Date.now();
  }
  ui.events.send({ kind: "follow", jobs: [...ui.following] });
}

function onEvent(data) {
  if (data.kind === "hello") onHello(data);
  else if (data.kind === "notification") onNotification(data.text);
  else if (data.kind === "job") onJob(data);
}

$("#start-job").addEventListener("click", async () => {
  if (!ui.eventsChannel || ui.events.state !== "open") {
    toast("Not connected yet: try again in a moment.");
    return;
  }
  const channel = ui.eventsChannel;
  const response = await fetch("/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ channel }),
  });
  if (!response.ok) {
    toast(`Could not start the job (HTTP ${response.status}).`);
    return;
  }
  const { job } = await response.json();
  if (FINAL_STATES.has(jobRow(job).dataset.state)) return;
  ui.following.add(job);
  // Reconnected while the request was on its way: the new connection must join too.
  if (ui.eventsChannel !== channel) ui.events.send({ kind: "follow", jobs: [job] });
});

$("#notify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("#notify-text").value.trim();
  if (!text) return;
  const response = await fetch("/notify", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  if (response.ok) $("#notify-text").value = "";
  else toast(`Could not notify (HTTP ${response.status}).`);
});

// -- start -------------------------------------------------------------------------------

$("#name").value = ui.name;
ui.events = new ReconnectingSocket("/ws/events", { onMessage: onEvent, onChange: renderStatus });
joinRoom(ui.room);
loadInfo();
