/**
 * The demo page in headless Chromium (Debian's /usr/bin/chromium through playwright-core) against
 * a local system: two pages subscribe; a message published with the CLI (a spawned process)
 * reaches both; the page's own publish form reaches both; each row shows its seq; the page asks
 * for no favicon and logs no error. At 400 px nothing overflows. A reconnect resumes visibly, a
 * gap shows, and with auth on the page says a token is required. With auth on and a presence
 * topic, two principals' pages list each other as members and see a leave; the send box
 * publishes from the page's socket when the token's `publish` claim allows the topic (the other
 * page shows who sent it) and through POST /publish when it does not. Screenshots go to test/out/.
 */
import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { SignJWT } from 'jose';
import { chromium, type Browser, type Page, type WebSocketRoute } from 'playwright-core';
import { mintToken } from '../../local/auth-token';
import { startLocal, type LocalSystem } from '../../local/system';
import { ENV } from '../../protocol/env';
import { parseStackConfig } from '../../protocol/stack-settings';
import { sendEnvelope } from '../client/local-helpers';
import { ROOT, runCli } from '../cli/run-cli';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = path.join(ROOT, 'test', 'out');
const TOPIC = 'demo/browser';

/** Resolves once `check` holds, polling; the mocha timeout bounds the wait. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, name), fullPage: true });
}

describe('demo page in headless Chromium', function () {
  this.timeout(60_000);
  let system: LocalSystem;
  let browser: Browser;
  const pageErrors: string[] = [];
  /** Console errors and failed or refused requests (a missing favicon is one). */
  const problems: string[] = [];

  before(async () => {
    system = await startLocal({ quiet: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
    await system?.stop();
  });

  async function openDemo(options: { width?: number; route?: (page: Page) => Promise<void>; on?: LocalSystem } = {}): Promise<Page> {
    const target = options.on ?? system;
    const page = await browser.newPage({ viewport: { width: options.width ?? 1200, height: 820 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`));
    page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
    page.on('response', (response) => response.status() >= 400 && problems.push(`${response.status()}: ${response.url()}`));
    await options.route?.(page);
    await page.goto(target.outputs.demoUrl!);
    await page.locator('#ws-url', { hasText: target.outputs.websocketUrl }).waitFor();
    return page;
  }

  async function connectAndSubscribe(page: Page, topic = TOPIC): Promise<void> {
    await page.click('#connect');
    await page.locator('#state[data-state="open"]').waitFor();
    await page.fill('#topic', topic);
    await page.click('#subscribe');
    await page.locator(`#subscriptions li[data-topic="${topic}"]:not([data-pending])`).waitFor();
  }

  /** The messages table as [topic, seq, id, data] rows. */
  function rows(page: Page): Promise<string[][]> {
    return page.$$eval('#messages tr', (trs) => trs.map((tr) => Array.from((tr as HTMLTableRowElement).cells).slice(1).map((td) => td.textContent ?? '')));
  }

  it('two pages subscribe; messages from the CLI and from the page reach both, each with its seq (its epoch on hover); no favicon request, no errors', async () => {
    const [first, second] = [await openDemo(), await openDemo()];
    await connectAndSubscribe(first);
    await connectAndSubscribe(second);

    const published = await runCli(['publish', TOPIC, '{"hello":"browser"}'], { env: { REALTIME_LOCAL: system.outputs.demoUrl! } });
    expect(published.code, published.stderr).to.equal(0);
    const cliId = published.stdout.trim();
    for (const page of [first, second]) await page.locator('#messages tr', { hasText: cliId }).waitFor();

    // The page's publish form: POST /publish, then the message arrives like any other.
    await second.fill('#publish-topic', TOPIC);
    await second.fill('#publish-data', '{"from": "the form", "n": 2}');
    await second.click('#publish');
    const result = await second.locator('#publish-result.ok').textContent();
    const formId = /^published (\S+)$/.exec(result ?? '')?.[1];
    expect(formId, result ?? '').to.be.a('string');
    for (const page of [first, second]) await page.locator('#messages tr', { hasText: formId! }).waitFor();

    for (const page of [first, second]) {
      expect(await rows(page)).to.deep.equal([
        [TOPIC, '2', formId, '{"from":"the form","n":2}'],
        [TOPIC, '1', cliId, '{"hello":"browser"}'],
      ]);
      expect(await page.textContent('#message-count')).to.equal('2');
      const epochs = await page.$$eval('#messages td.seq', (tds) => tds.map((td) => (td as HTMLElement).title));
      expect(epochs).to.have.length(2);
      expect(epochs[0]).to.match(/^epoch \S+$/);
      expect(epochs[1]).to.equal(epochs[0]);
    }

    // A bad publish shows its reason; a refused topic shows in the log; nothing is delivered.
    await first.fill('#publish-data', '{oops');
    await first.click('#publish');
    expect(await first.locator('#publish-result.error').textContent()).to.match(/not valid JSON/);
    await first.fill('#topic', 'no spaces');
    await first.click('#subscribe');
    await first.locator('#log li.error', { hasText: 'INVALID_TOPIC' }).waitFor();
    expect(await first.locator('#subscriptions li').count()).to.equal(1);
    // Auth is off: no token note.
    expect(await first.locator('#auth-note').isHidden()).to.equal(true);

    await screenshot(first, 'demo.png');

    // Unsubscribe and disconnect: the state badge follows the client.
    await first.click(`#subscriptions li[data-topic="${TOPIC}"] button`);
    await first.locator('#log li', { hasText: `unsubscribed from ${TOPIC}` }).waitFor();
    await first.click('#connect');
    await first.locator('#state[data-state="closed"]').waitFor();
    expect(await first.$eval('link[rel="icon"]', (link) => (link as HTMLLinkElement).href)).to.match(/^data:image\/svg\+xml,/);
    expect(pageErrors).to.deep.equal([]);
    expect(problems).to.deep.equal([]);
  });

  it('at 400 px wide every part fits the screen: nothing scrolls sideways', async () => {
    const page = await openDemo({ width: 400 });
    await connectAndSubscribe(page, 'demo/narrow');
    await page.fill('#publish-topic', 'demo/narrow');
    await page.fill('#publish-data', JSON.stringify({ text: 'a long message that must wrap inside its cell rather than widen the page'.repeat(2), n: 1 }));
    await page.click('#publish');
    await page.locator('#messages tr').waitFor();
    await screenshot(page, 'demo-400.png');
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      overflowing: Array.from(document.querySelectorAll('header, .card, input, button, textarea'))
        .filter((el) => (el as HTMLElement).offsetParent !== null && el.getBoundingClientRect().right > window.innerWidth + 0.5)
        .map((el) => el.id || el.className || el.tagName),
    }));
    expect(layout).to.deep.equal({ scrollWidth: 400, overflowing: [] });
    expect(pageErrors).to.deep.equal([]);
  });

  /** A page whose socket goes through a route that can swallow frames and cut the connection. */
  async function openCuttable(on?: LocalSystem) {
    const link = { dropping: false, dropped: 0, sockets: [] as { page: WebSocketRoute; server: WebSocketRoute }[] };
    const page = await openDemo({
      on,
      route: (p) =>
        p.routeWebSocket(/\/local$/, (ws) => {
          const server = ws.connectToServer();
          link.sockets.push({ page: ws, server });
          server.onMessage((message) => {
            if (link.dropping) link.dropped++;
            else ws.send(message);
          });
        }),
    });
    return {
      page,
      link,
      /** The network vanishes: frames from the server are lost until cut() is called. */
      vanish: () => (link.dropping = true),
      /** Both ends see the connection go; the network is back for the next one. */
      async cut() {
        const { page: pageSide, server } = link.sockets[link.sockets.length - 1];
        link.dropping = false;
        await server.close({ code: 1001, reason: 'network gone' });
        await pageSide.close({ code: 4000, reason: 'network gone' });
      },
    };
  }

  it('a reconnect resumes visibly: what was published while the network was gone is replayed, and the log says so', async () => {
    const topic = 'demo/resume';
    const { page, link, vanish, cut } = await openCuttable();
    await connectAndSubscribe(page, topic);
    await sendEnvelope(system.outputs, { id: 'r-1', topic, data: { n: 1 } });
    await page.locator('#messages tr', { hasText: 'r-1' }).waitFor();

    vanish();
    for (const n of [2, 3, 4]) await sendEnvelope(system.outputs, { id: `r-${n}`, topic, data: { n } });
    await until(() => link.dropped === 3);
    await cut();

    await page.locator('#log li', { hasText: `resumed ${topic} from seq 1: 3 replayed, now at seq 4` }).waitFor();
    expect(await page.locator('#log li', { hasText: `will resume ${topic} from seq 1` }).count()).to.equal(1);
    expect(await rows(page)).to.deep.equal([
      [topic, '4', 'r-4', '{"n":4}'],
      [topic, '3', 'r-3', '{"n":3}'],
      [topic, '2', 'r-2', '{"n":2}'],
      [topic, '1', 'r-1', '{"n":1}'],
    ]);
    expect(await page.locator('#gaps li').count()).to.equal(0);
    expect(pageErrors).to.deep.equal([]);
  });

  it('a gap that cannot be filled (the history kept too few) shows where the messages are, and in the log', async () => {
    // History keeps 2 messages per topic: 4 missed messages cannot all be replayed.
    const small = await startLocal({ quiet: true, env: { [ENV.historyMaxMessages]: '2' } });
    try {
      const topic = 'demo/gap';
      const { page, link, vanish, cut } = await openCuttable(small);
      await connectAndSubscribe(page, topic);
      await sendEnvelope(small.outputs, { id: 'g-1', topic, data: 1 });
      await page.locator('#messages tr', { hasText: 'g-1' }).waitFor();

      vanish();
      for (const n of [2, 3, 4, 5]) await sendEnvelope(small.outputs, { id: `g-${n}`, topic, data: n });
      await until(() => link.dropped === 4);
      await cut();

      const alert = page.locator(`#gaps li[data-topic="${topic}"]`);
      await alert.waitFor();
      expect(await alert.textContent()).to.match(/^Gap on demo\/gap: messages after seq 1 up to seq 5 cannot be delivered, no longer retained .*Reload this topic's state; delivery continues from seq 5\./);
      await page.locator('#log li.error', { hasText: `resumed ${topic} from seq 1 with a gap` }).waitFor();
      await screenshot(page, 'demo-gap.png');
      await alert.locator('button').click();
      expect(await page.locator('#gaps li').count()).to.equal(0);
      expect(pageErrors).to.deep.equal([]);
    } finally {
      await small.stop();
    }
  });
});

describe('demo page with auth on, in headless Chromium', function () {
  this.timeout(60_000);
  const SECRET = 'demo-secret';
  let system: LocalSystem;
  let browser: Browser;

  before(async () => {
    // room/* is a presence topic, as a stack would set it (presenceTopics).
    system = await startLocal({ quiet: true, authSecret: SECRET, stack: parseStackConfig({ presenceTopics: ['room/*'] }) });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  after(async () => {
    await browser?.close();
    await system?.stop();
  });

  it('says a token is required up front; refuses to connect without one; stops on a refused (expired) token; connects with a valid one', async () => {
    expect(system.outputs.authRequired).to.equal(true);
    const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
    await page.goto(system.outputs.demoUrl!);
    const note = page.locator('#auth-note');
    await note.filter({ hasText: 'Token required: auth is on' }).waitFor();
    expect(await page.getAttribute('#token', 'aria-required')).to.equal('true');

    // No token: the page does not even try.
    await page.click('#connect');
    await page.locator('#auth-note.error', { hasText: 'Token required: paste a token' }).waitFor();
    expect(await page.getAttribute('#state', 'data-state')).to.equal('closed');
    // Subscribing would connect: not without a token either.
    await page.click('#subscribe');
    expect(await page.locator('#subscriptions li').count()).to.equal(0);
    expect(await page.getAttribute('#state', 'data-state')).to.equal('closed');
    expect(system.gateway.stats().connections).to.equal(0);

    // An expired token: the client says UNAUTHORIZED (the browser only sees 1006), and the page stops retrying.
    const expired = await new SignJWT({ topics: ['demo/*'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
      .sign(new TextEncoder().encode(SECRET));
    await page.fill('#token', expired);
    await page.click('#connect');
    await page.locator('#auth-note.error', { hasText: 'the server refused the connection (UNAUTHORIZED)' }).waitFor();
    await page.locator('#state[data-state="closed"]').waitFor();
    await screenshot(page, 'demo-auth.png');

    await page.fill('#token', await mintToken({ secret: SECRET, sub: 'alice', topics: ['demo/*'] }));
    await page.click('#connect');
    await page.locator('#state[data-state="open"]').waitFor();
    await note.filter({ hasText: 'Token accepted.' }).waitFor();
    await page.fill('#topic', 'demo/authed');
    await page.click('#subscribe');
    await page.locator('#subscriptions li[data-topic="demo/authed"]:not([data-pending])').waitFor();
  });

  describe('presence card and send box (two principals)', () => {
    const ROOM = 'room/lobby';
    const CHAT = 'demo/chat';
    const pageErrors: string[] = [];
    const problems: string[] = [];

    /** A demo page with `token` pasted, connected, subscribed to CHAT and following ROOM. */
    async function openAs(token: string): Promise<Page> {
      const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      page.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`));
      page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
      page.on('response', (response) => response.status() >= 400 && problems.push(`${response.status()}: ${response.url()}`));
      await page.goto(system.outputs.demoUrl!);
      await page.locator('#auth-note', { hasText: 'Token required: auth is on' }).waitFor();
      await page.fill('#token', token);
      await page.click('#connect');
      await page.locator('#state[data-state="open"]').waitFor();
      await page.fill('#topic', CHAT);
      await page.click('#subscribe');
      await page.locator(`#subscriptions li[data-topic="${CHAT}"]:not([data-pending])`).waitFor();
      await page.fill('#presence-topic', ROOM);
      await page.click('#follow');
      await page.locator('#log li', { hasText: `following presence in ${ROOM}` }).waitFor();
      return page;
    }

    /** The presence card: its count and its members' lines, sorted. */
    async function card(page: Page): Promise<{ count: string | null; members: string[] }> {
      return {
        count: await page.textContent('#member-count'),
        members: (await page.$$eval('#members li', (lis) => lis.map((li) => li.textContent ?? ''))).sort(),
      };
    }

    /** The data cell of the message row with this id, once it is there. */
    async function dataOf(page: Page, id: string): Promise<string | null> {
      const row = page.locator('#messages tr', { hasText: id });
      await row.waitFor();
      return row.locator('td').nth(4).textContent();
    }

    it('each page lists both members; a message from the send box reaches the other page with `from`; without a publish claim it goes through POST /publish; closing a page is a leave on the other', async () => {
      const ALICE = 'alice {"name":"Alice"}';
      const BOB = 'bob {"name":"Bob"}';
      const alice = await openAs(await mintToken({ secret: SECRET, sub: 'alice', topics: ['demo/*', 'room/*'], publish: ['demo/*'], presence: { name: 'Alice' } }));
      await alice.locator('#members li', { hasText: ALICE }).waitFor();
      const bob = await openAs(await mintToken({ secret: SECRET, sub: 'bob', topics: ['demo/*', 'room/*'], presence: { name: 'Bob' } }));

      // Both cards list both members: bob's from the subscribed reply, alice's from the join event.
      for (const page of [alice, bob]) {
        await page.locator('#member-count', { hasText: '2' }).waitFor();
        expect(await card(page)).to.deep.equal({ count: '2', members: [ALICE, BOB] });
        expect(await page.locator('#members-note').textContent()).to.equal('');
      }
      await alice.locator('#log li', { hasText: `bob joined ${ROOM}` }).waitFor();

      // alice's token allows demo/*: the send box publishes from her socket; bob's page shows her as the sender.
      await alice.fill('#publish-topic', CHAT);
      await alice.fill('#publish-data', '{"text": "hi from alice"}');
      await alice.click('#publish');
      const sent = await alice.locator('#publish-result.ok').textContent();
      const sentId = /^sent from this socket as alice: (\S+)$/.exec(sent ?? '')?.[1];
      expect(sentId, sent ?? '').to.be.a('string');
      for (const page of [bob, alice]) expect(await dataOf(page, sentId!)).to.equal('alice: {"text":"hi from alice"}');

      // bob's token has no publish claim: the send box falls back to POST /publish (the queue, as a backend would), no `from`.
      await bob.fill('#publish-topic', CHAT);
      await bob.fill('#publish-data', '{"text": "hi from bob"}');
      await bob.click('#publish');
      const posted = await bob.locator('#publish-result.ok', { hasText: /^published / }).textContent();
      const postedId = /^published (\S+)$/.exec(posted ?? '')?.[1];
      expect(postedId, posted ?? '').to.be.a('string');
      for (const page of [alice, bob]) expect(await dataOf(page, postedId!)).to.equal('{"text":"hi from bob"}');
      await screenshot(bob, 'demo-presence.png');

      // alice closes her page: bob's card drops her, and his log says she left.
      await alice.close();
      await bob.locator('#members li', { hasText: 'alice' }).waitFor({ state: 'detached' });
      expect(await card(bob)).to.deep.equal({ count: '1', members: [BOB] });
      await bob.locator('#log li', { hasText: `alice left ${ROOM}` }).waitFor();
      expect(pageErrors).to.deep.equal([]);
      expect(problems).to.deep.equal([]);
    });
  });
});
