/** `realtime listen --token`: the token travels in Sec-WebSocket-Protocol unless --token-transport query says otherwise. */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { FakeServer } from '../client/fake-server';
import { startCli, waitForOutput } from './run-cli';

describe('realtime listen --token (spawned)', function () {
  this.timeout(30_000);
  let server: FakeServer;
  const children: ChildProcess[] = [];
  beforeEach(async () => (server = await new FakeServer({ protocol: 'realtime' }).start()));
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await server.close();
  });

  /** Runs listen until it says it listens; the handshake the server saw. */
  async function handshakeOf(extra: string[]) {
    const child = startCli(['listen', 'tok/1', '--url', server.url, '--token', 'abc.def.ghi', ...extra]);
    children.push(child);
    await waitForOutput(child.stderr!, /listening on tok\/1/);
    const { request } = server.connections[0];
    return { url: request.url!, protocols: request.headers['sec-websocket-protocol']?.split(/,\s*/) };
  }

  it('by default offers the bearer subprotocol and keeps the token out of the URL', async () => {
    expect(await handshakeOf([])).to.deep.equal({ url: '/local', protocols: ['realtime', 'bearer.abc.def.ghi'] });
  });

  it('--token-transport query puts it in ?token=', async () => {
    expect(await handshakeOf(['--token-transport', 'query'])).to.deep.equal({ url: '/local?token=abc.def.ghi', protocols: undefined });
  });
});
