/** The demo page's committed browser bundle must be what client/ builds to today. */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { buildBrowserBundle, DEMO_BUNDLE_PATH } from '../../client/bundle';

describe('client browser bundle', () => {
  it('is fresh: local/demo/realtime-client.js equals a new build (regenerate: npx tsx client/bundle.ts)', async () => {
    const [built, committed] = await Promise.all([buildBrowserBundle(), readFile(DEMO_BUNDLE_PATH, 'utf8')]);
    expect(committed === built, 'local/demo/realtime-client.js is stale: run `npx tsx client/bundle.ts`').to.equal(true);
  });

  it('leaves the ws package out and exports the client', async () => {
    const built = await buildBrowserBundle();
    expect(built).not.to.contain('Sec-WebSocket-Key'); // ws's handshake code
    expect(built).to.match(/export\{[^}]*\bRealtimeClient\b/);
    expect(built).to.match(/export\{[^}]*\bRealtimeError\b/);
  });
});
