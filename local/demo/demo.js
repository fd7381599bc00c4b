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
  return client;
}

function showMessage(message) {
  const row = document.createElement('tr');
  const data = document.createElement('code');
  data.textContent = JSON.stringify(message.data);
  for (const text of [new Date().toLocaleTimeString(), message.topic, message.id]) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  const dataCell = document.createElement('td');
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

$('connect-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const c = getClient();
  if (c.state === 'closed') c.connect().catch(() => undefined);
  else c.close();
});

$('subscribe-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const topic = $('topic').value.trim();
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

try {
  const response = await fetch('config.json');
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  config = await response.json();
  $('ws-url').textContent = config.websocketUrl;
  $('connect').disabled = false;
  $('subscribe').disabled = false;
  showState('closed');
} catch (error) {
  $('ws-url').textContent = 'unavailable';
  log(`cannot load config.json: ${error.message}`, true);
}
