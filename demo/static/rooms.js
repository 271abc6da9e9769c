// Presence and history in a room: the online list follows presence events, and after a
// reconnect the page gives the server the position of the last message it showed, so it
// gets exactly what it missed, in order, before anything live (or is told it cannot).
"use strict";

const BACKOFF_START_MS = 300;
const BACKOFF_MAX_MS = 5000;

const params = new URLSearchParams(location.search);
const room = params.get("room") || "lobby";
const name = params.get("name") || `guest-${Math.floor(Math.random() * 1000)}`;

const $ = (id) => document.getElementById(id);
const members = new Map(); // channel -> name
let position = null; // of the last message shown ("<epoch>:<offset>")
let socket = null;
let attempt = 0;
let connectedOnce = false;
let timer = null;

function setStatus(state, text) {
  $("status").dataset.state = state;
  $("status-text").textContent = text;
}

function showOnline() {
  const tabs = new Map();
  for (const who of members.values()) tabs.set(who, (tabs.get(who) || 0) + 1);
  const list = $("online");
  list.replaceChildren();
  for (const who of [...tabs.keys()].sort()) {
    const item = document.createElement("li");
    item.dataset.name = who;
    item.textContent = who;
    if (tabs.get(who) > 1) {
      const count = document.createElement("span");
      count.className = "tabs";
      count.textContent = `${tabs.get(who)} tabs`;
      item.append(count);
    }
    list.append(item);
  }
  $("online-count").textContent = String(tabs.size);
}

function showMessage(message, recovered) {
  const item = document.createElement("li");
  item.dataset.position = message.position;
  if (recovered) item.className = "recovered";
  const author = document.createElement("strong");
  author.textContent = `${message.author}: `;
  item.append(author, document.createTextNode(message.text));
  $("messages").append(item);
  item.scrollIntoView({ block: "end" });
  position = message.position;
}

function connect() {
  clearTimeout(timer);
  const url = new URL(`/ws/rooms/${encodeURIComponent(room)}`, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("name", name);
  if (position) url.searchParams.set("since", position);
  const ws = new WebSocket(url);
  socket = ws;
  let ready = false;
  setStatus("connecting", connectedOnce ? "catching up…" : "connecting…");
  ws.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.kind === "message") {
      showMessage(data, !ready && connectedOnce);
    } else if (data.kind === "lost") {
      $("notice").hidden = false;
      $("notice").textContent =
        "Some messages sent while this page was away could not be recovered (the room's " +
        "history no longer reaches back). Reload to see the room as it is now.";
    } else if (data.kind === "ready") {
      ready = true;
      connectedOnce = true;
      attempt = 0;
      position = data.position; // where the recovery ended (after a "lost": the room's now)
      members.clear();
      for (const [channel, who] of Object.entries(data.members)) members.set(channel, who);
      showOnline();
      setStatus("open", "connected");
    } else if (data.kind === "joined") {
      members.set(data.channel, data.name);
      showOnline();
    } else if (data.kind === "left") {
      members.delete(data.channel);
      showOnline();
    }
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    if (!navigator.onLine) {
      setStatus("reconnecting", "offline: waiting for the network…");
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** attempt);
    attempt += 1;
    setStatus("reconnecting", "reconnecting…");
    timer = setTimeout(connect, delay);
  };
}

window.addEventListener("online", () => {
  if (socket === null) connect();
});
// The network went away (a phone in a tunnel): this connection is as good as gone.
window.addEventListener("offline", () => {
  if (socket !== null) socket.close();
});

$("room-name").textContent = `#${room}`;
$("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (text && socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ text }));
    $("text").value = "";
  }
});
connect();
