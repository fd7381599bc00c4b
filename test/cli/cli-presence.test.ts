/** `realtime token --publish/--presence` and `realtime presence <topic>`, spawned, against a local system with auth and presence topics. */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { decodeJwt } from 'jose';
import { RealtimeClient } from '../../client/index';
import { startLocal, type LocalSystem } from '../../local/system';
import { ENV } from '../../protocol/env';
import { runCli, startCli, waitForOutput } from './run-cli';

const SECRET = 'cli-presence';

describe('realtime presence and token --publish/--presence (spawned)', function () {
  this.timeout(40_000);
  let system: LocalSystem;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];
  before(async () => {
    system = await startLocal({ quiet: true, authSecret: SECRET, env: { [ENV.presenceTopics]: '["room/*"]' } });
    env = { REALTIME_LOCAL: system.outputs.demoUrl!, REALTIME_AUTH_SECRET: SECRET };
  });
  after(async () => {
    children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
    await system?.stop();
  });

  const mint = async (args: string[]) => {
    const result = await runCli(['token', ...args], { env });
    expect(result.code, result.stderr).to.equal(0);
    return result.stdout.trim();
  };

  it('token puts the publish and presence claims in; bad --presence JSON is a usage error', async () => {
    const jwt = await mint(['--sub', 'ada', '--topics', 'room/*', '--publish', 'chat/*,room/*', '--presence', '{"name":"Ada"}']);
    expect(decodeJwt(jwt)).to.deep.include({ sub: 'ada', topics: ['room/*'], publish: ['chat/*', 'room/*'], presence: { name: 'Ada' } });
    const bad = await runCli(['token', '--sub', 'ada', '--topics', 'room/*', '--presence', '{nope'], { env });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/--presence must be JSON/);
  });

  it('presence prints the members, then joins and leaves as JSON lines', async () => {
    const other = new RealtimeClient({ url: system.outputs.websocketUrl, token: await mint(['--sub', 'grace', '--topics', 'room/*', '--presence', '{"name":"Grace"}']) });
    try {
      await other.presence('room/cli');
      const once = await runCli(['presence', 'room/cli', '--once', '--token', await mint(['--sub', 'ada', '--topics', 'room/*'])], { env });
      expect(once.code, once.stderr).to.equal(0);
      const list = JSON.parse(once.stdout.trim()) as { members: { id: string }[]; count: number };
      expect(list.count).to.equal(2);
      expect(list.members.map((m) => m.id).sort()).to.deep.equal(['ada', 'grace']);

      const child = startCli(['presence', 'room/cli', '--token', await mint(['--sub', 'ada', '--topics', 'room/*'])], env);
      children.push(child);
      await waitForOutput(child.stderr!, /following room\/cli/);
      other.close();
      const text = await waitForOutput(child.stdout!, /"event":"leave"/);
      const leave = text.split('\n').find((l) => l.includes('"event":"leave"'))!;
      expect(JSON.parse(leave)).to.deep.equal({ topic: 'room/cli', event: 'leave', member: { id: 'grace', data: { name: 'Grace' } }, count: 1 });
    } finally {
      other.close();
    }
  });

  it('presence on a topic that is not a presence topic says so and exits 1 (no empty list)', async () => {
    const result = await runCli(['presence', 'plain/cli', '--once', '--token', await mint(['--sub', 'ada', '--topics', 'plain/*'])], { env });
    expect(result.code).to.equal(1);
    expect(result.stdout).to.equal('');
    expect(result.stderr).to.match(/plain\/cli is not a presence topic/);
  });
});
