// The local demo page: the real client SDK (realtime-client.js, bundled from client/) in a browser.
import { RealtimeClient } from './realtime-client.js';

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 200;

let config;
let client;
let messageCount = 0;

function log(text, isError = false) {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  if (isError) item.className = 'error';
  $('log').prepend(item);
}

function showState(state) {
  $('state').textContent = state;
  $('state').dataset.state = state;
  $('connect').textContent = state === 'closed' ? 'Connect' : 'Disconnect';
}

/** One client for the page; the token is read again on every (re)connection. */
function getClient() {
  if (client) return client;
  // The token goes in Sec-WebSocket-Protocol (bearer.<jwt>), never in the URL, where logs and history keep it.
  client = new RealtimeClient({ url: config.websocketUrl, token: () => $('token').value.trim(), tokenTransport: 'subprotocol' });
  client.on('state', (state) => {
    showState(state);
    log(`connection ${state}`);
  });
  client.on('error', (error) => log(`${error.code}: ${error.message}`, true));
  watchAuth(client);
  followContinuity(client);
  return client;
}

function showMessage(message) {
  const row = document.createElement('tr');
  const data = document.createElement('code');
  data.textContent = JSON.stringify(message.data);
  for (const text of [new Date().toLocaleTimeString(), message.topic]) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  row.append(seqCell(message));
  const idCell = document.createElement('td');
  idCell.textContent = message.id;
  row.append(idCell);
  const dataCell = document.createElement('td');
  // A client publish says who sent it.
  if (message.from !== undefined) dataCell.append(`${message.from}: `);
  dataCell.append(data);
  row.append(dataCell);
  $('messages').prepend(row);
  while ($('messages').rows.length > MAX_ROWS) $('messages').deleteRow(-1);
  $('message-count').textContent = String(++messageCount);
  $('messages-empty').hidden = true;
}

function topicItem(topic) {
  return [...$('subscriptions').children].find((li) => li.dataset.topic === topic);
}

function refreshEmpty() {
  $('subscriptions-empty').hidden = $('subscriptions').children.length > 0;
}

async function subscribe(topic) {
  if (topicItem(topic)) return log(`already subscribed to ${topic}`);
  const item = document.createElement('li');
  item.dataset.topic = topic;
  item.dataset.pending = '';
  const name = document.createElement('code');
  name.textContent = topic;
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Unsubscribe';
  item.append(name, button);
  $('subscriptions').append(item);
  refreshEmpty();
  try {
    await getClient().subscribe(topic, showMessage);
    delete item.dataset.pending;
    log(`subscribed to ${topic}`);
    button.onclick = async () => {
      item.remove();
      refreshEmpty();
      await client.unsubscribe(topic);
      log(`unsubscribed from ${topic}`);
    };
  } catch (error) {
    item.remove();
    refreshEmpty();
    log(`subscribe ${topic} refused: ${error.code}: ${error.message}`, true);
  }
}

async function publish(topic, text) {
  const result = $('publish-result');
  result.className = 'muted';
  let data;
  try {
    data = JSON.parse(text);
  } catch (error) {
    result.className = 'error';
    result.textContent = `data is not valid JSON: ${error.message}`;
    return;
  }
  // With a token whose `publish` claim allows it, the message goes from this page's own socket.
  const grant = tokenClaims().publish;
  if (client && client.state === 'open' && Array.isArray(grant) && grant.some((p) => patternMatches(p, topic, tokenClaims().sub))) {
    try {
      const { id } = await client.publish(topic, data);
      result.className = 'ok';
      result.textContent = `sent from this socket as ${tokenClaims().sub}: ${id}`;
    } catch (error) {
      result.className = 'error';
      result.textContent = `publish refused: ${error.code}: ${error.message}`;
    }
    return;
  }
  try {
    const response = await fetch('publish', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic, data }),
    });
    const body = await response.text();
    let reply;
    try {
      reply = JSON.parse(body);
    } catch {
      reply = { error: body };
    }
    if (!response.ok) throw new Error(reply.error ?? reply.message ?? `${response.status} ${response.statusText}`);
    result.className = 'ok';
    result.textContent = `published ${reply.messageId}`;
  } catch (error) {
    result.className = 'error';
    result.textContent = `publish failed: ${error.message}`;
  }
}

/** The token's claims (unverified: only to choose how to publish), or {}. */
function tokenClaims() {
  try {
    const part = $('token').value.trim().split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part)) ?? {};
  } catch {
    return {};
  }
}

/** The `topics`/`publish` claim syntax: `*` is one segment, `{sub}` the principal. */
function patternMatches(pattern, topic, sub) {
  const want = pattern.split('/');
  const have = topic.split('/');
  return want.length === have.length && want.every((w, i) => (w === '*' ? have[i] !== '' : w.split('{sub}').join(sub ?? '\u0000') === have[i]));
}

// ---- presence: who is in a presence topic ----

let room;

async function follow(topic) {
  await room?.close().catch(() => undefined);
  room = undefined;
  const c = getClient();
  try {
    room = await c.presence(topic, showMessage);
  } catch (error) {
    log(`presence ${topic} refused: ${error.code}: ${error.message}`, true);
    return;
  }
  log(`following presence in ${topic}`);
  const render = () => {
    $('members').replaceChildren(
      ...[...room.members.values()].map((m) => {
        const item = document.createElement('li');
        item.textContent = m.data === undefined ? m.id : `${m.id} ${JSON.stringify(m.data)}`;
        return item;
      }),
    );
    $('member-count').textContent = String(room.count);
    $('members-note').textContent = room.listed ? '' : `more members than the server lists: ${room.count} in all`;
  };
  room.on('join', (m) => log(`${m.id} joined ${topic}`));
  room.on('leave', (m) => log(`${m.id} left ${topic}`));
  room.on('change', render);
  render();
}

$('presence-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const topic = $('presence-topic').value.trim();
  if ((client?.state ?? 'closed') === 'closed' && tokenMissing()) return;
  if (topic) follow(topic);
});

$('connect-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const c = getClient();
  if (c.state !== 'closed') return c.close();
  if (tokenMissing()) return;
  c.connect().catch(() => undefined);
});

$('subscribe-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const topic = $('topic').value.trim();
  // Subscribing connects a closed client: not without the token auth needs.
  if ((client?.state ?? 'closed') === 'closed' && tokenMissing()) return;
  if (topic) subscribe(topic);
});

$('publish-form').addEventListener('submit', (event) => {
  event.preventDefault();
  publish($('publish-topic').value.trim(), $('publish-data').value);
});

$('clear').addEventListener('click', () => {
  $('messages').replaceChildren();
  messageCount = 0;
  $('message-count').textContent = '0';
  $('messages-empty').hidden = false;
});

// ---- auth: "token required" ----
// /config.json says whether the $connect authorizer is on. Browsers do not tell a page why a
// handshake failed (only 1006), so the page says so up front, refuses to connect without a
// token, and stops retrying once the client knows the token was refused (UNAUTHORIZED: expired).

const MINT_HINT = "npx realtime token --secret SECRET --sub you --topics 'demo/*'";

function showAuthNote(text, isError) {
  const note = $('auth-note');
  note.textContent = text;
  note.className = isError ? 'notice error' : 'notice';
  note.hidden = false;
}

function showAuthRequired(required) {
  if (!required) return;
  // aria-required, not required: the form's own validation would swallow the submit and the note with it.
  $('token').setAttribute('aria-required', 'true');
  $('token').placeholder = 'token (required)';
  showAuthNote(`Token required: auth is on. Mint one with ${MINT_HINT} and paste it above.`, false);
}

/** True (and says so) when auth is on and no token was given. */
function tokenMissing() {
  if (!config?.authRequired || $('token').value.trim() !== '') return false;
  showAuthNote(`Token required: paste a token to connect (${MINT_HINT}).`, true);
  $('token').focus();
  return true;
}

function watchAuth(c) {
  c.on('error', (error) => {
    // A refused handshake names no topic (a FORBIDDEN naming topics refused a subscription only).
    if ((error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN') && error.topics.length === 0) {
      // The same token would be refused again: stop, and ask for another.
      c.close();
      showAuthNote(`Token required: the server refused the connection (${error.code}). Paste a valid token and connect again.`, true);
    } else if (error.code === 'CONNECTION_FAILED' && config?.authRequired && c.state !== 'open') {
      showAuthNote('The connection was refused: auth is on, is the token valid? (Browsers do not say why a handshake failed.)', true);
    }
  });
  c.on('state', (state) => {
    if (state === 'open' && config?.authRequired) showAuthNote('Token accepted.', false);
  });
}

// ---- continuity: seq, resume and gaps ----
// Every message carries its place in its topic's stream (seq, in the stream named epoch). When
// the socket drops, the client resubscribes from where each topic stood and the server replays
// what was missed first; the page counts those and says so once the topic is confirmed again.

/** The seq cell of a message row; its epoch on hover. */
function seqCell(message) {
  const cell = document.createElement('td');
  cell.className = 'seq';
  cell.textContent = message.seq === undefined ? '—' : String(message.seq);
  if (message.epoch !== undefined) cell.title = `epoch ${message.epoch}`;
  return cell;
}

/** A reconnect in progress: where each topic stood when the socket dropped, what came since, and gaps. */
let resume;

function followContinuity(c) {
  c.on('state', (state) => {
    if (state === 'reconnecting' && !resume) {
      resume = { from: c.positions(), replayed: {}, gaps: {}, confirming: false };
      const topics = Object.entries(resume.from).map(([topic, p]) => `${topic} from seq ${p.seq}`);
      if (topics.length > 0) log(`connection lost; will resume ${topics.join(', ')}`);
    } else if (state === 'open' && resume && !resume.confirming) {
      resume.confirming = true;
      void confirmResume(c, resume);
    } else if (state === 'closed') {
      resume = undefined;
    }
  });
  c.on('message', (message) => {
    const from = resume?.from[message.topic];
    if (from && message.seq !== undefined && (message.epoch !== from.epoch || message.seq > from.seq)) {
      resume.replayed[message.topic] = (resume.replayed[message.topic] ?? 0) + 1;
    }
  });
  c.on('gap', (gap) => {
    if (resume) resume.gaps[gap.topic] = gap;
    showGap(gap);
  });
}

/** Waits for each resumed topic to be confirmed on the new socket (replays come before that), then tells. */
async function confirmResume(c, r) {
  const topics = Object.keys(r.from).filter((topic) => c.topics.includes(topic));
  await Promise.all(
    topics.map(async (topic) => {
      try {
        // Already subscribed with this handler: resolves once the server confirms the topic again.
        await c.subscribe(topic, showMessage);
      } catch {
        return; // unsubscribed or refused meanwhile: the log has said why
      }
      const from = r.from[topic].seq;
      const now = c.positions()[topic]?.seq;
      if (r.gaps[topic]) log(`resumed ${topic} from seq ${from} with a gap: see above; continuing from seq ${now}`, true);
      else log(`resumed ${topic} from seq ${from}: ${r.replayed[topic] ?? 0} replayed${now !== undefined ? `, now at seq ${now}` : ''}`);
    }),
  );
  if (resume === r) resume = undefined;
}

const GAP_REASONS = {
  expired: 'no longer retained (older than the history keeps)',
  epoch: "the topic's stream was reset (a new epoch)",
  ahead: 'the position was ahead of the stream',
};

/** A stretch of a topic that will never arrive: say so where the messages are, and in the log. */
function showGap(gap) {
  const item = document.createElement('li');
  const text = `Gap on ${gap.topic}: messages after seq ${gap.from.seq} up to seq ${gap.to.seq} cannot be delivered, ${GAP_REASONS[gap.reason] ?? gap.reason}. Reload this topic's state; delivery continues from seq ${gap.to.seq}.`;
  item.textContent = text;
  item.dataset.topic = gap.topic;
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'secondary';
  dismiss.textContent = 'Dismiss';
  dismiss.onclick = () => item.remove();
  item.append(dismiss);
  $('gaps').append(item);
  log(`gap on ${gap.topic} (${gap.reason}): seq ${gap.from.seq} → ${gap.to.seq}`, true);
}

// ---- start: load the config (last, so every section above is defined) ----

try {
  const response = await fetch('config.json');
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  config = await response.json();
  $('ws-url').textContent = config.websocketUrl;
  showAuthRequired(config.authRequired === true);
  $('connect').disabled = false;
  $('subscribe').disabled = false;
  showState('closed');
} catch (error) {
  $('ws-url').textContent = 'unavailable';
  log(`cannot load config.json: ${error.message}`, true);
}
