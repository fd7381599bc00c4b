/**
 * The demo page in headless Chromium (Debian's /usr/bin/chromium through playwright-core) against
 * a local system: two pages subscribe; a message published with the CLI (a spawned process)
 * reaches both; the page's own publish form reaches both; a screenshot goes to test/out/demo.png.
 */
import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startLocal, type LocalSystem } from '../../local/system';
import { ROOT, runCli } from '../cli/run-cli';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = path.join(ROOT, 'test', 'out', 'demo.png');
const TOPIC = 'demo/browser';

describe('demo page in headless Chromium', function () {
  this.timeout(60_000);
  let system: LocalSystem;
  let browser: Browser;
  const pageErrors: string[] = [];

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

  async function openDemo(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(system.outputs.demoUrl!);
    await page.locator('#ws-url', { hasText: system.outputs.websocketUrl }).waitFor();
    return page;
  }

  async function connectAndSubscribe(page: Page): Promise<void> {
    await page.click('#connect');
    await page.locator('#state[data-state="open"]').waitFor();
    await page.fill('#topic', TOPIC);
    await page.click('#subscribe');
    await page.locator(`#subscriptions li[data-topic="${TOPIC}"]:not([data-pending])`).waitFor();
  }

  /** The messages table as [topic, id, data] rows. */
  function rows(page: Page): Promise<string[][]> {
    return page.$$eval('#messages tr', (trs) => trs.map((tr) => Array.from((tr as HTMLTableRowElement).cells).slice(1).map((td) => td.textContent ?? '')));
  }

  it('two pages subscribe; messages from the CLI and from the page reach both', async () => {
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
        [TOPIC, formId, '{"from":"the form","n":2}'],
        [TOPIC, cliId, '{"hello":"browser"}'],
      ]);
      expect(await page.textContent('#message-count')).to.equal('2');
    }

    // A bad publish shows its reason; a refused topic shows in the log; nothing is delivered.
    await first.fill('#publish-data', '{oops');
    await first.click('#publish');
    expect(await first.locator('#publish-result.error').textContent()).to.match(/not valid JSON/);
    await first.fill('#topic', 'no spaces');
    await first.click('#subscribe');
    await first.locator('#log li.error', { hasText: 'INVALID_TOPIC' }).waitFor();
    expect(await first.locator('#subscriptions li').count()).to.equal(1);

    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await first.screenshot({ path: SCREENSHOT, fullPage: true });

    // Unsubscribe and disconnect: the state badge follows the client.
    await first.click(`#subscriptions li[data-topic="${TOPIC}"] button`);
    await first.locator('#log li', { hasText: `unsubscribed from ${TOPIC}` }).waitFor();
    await first.click('#connect');
    await first.locator('#state[data-state="closed"]').waitFor();
    expect(pageErrors).to.deep.equal([]);
  });
});
