/**
 * Ctrl-C in a terminal sends SIGINT to the whole process group: npm, the shell it starts and
 * the local system. Every connection's $disconnect must still run, and `npm start` exit 0.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDynamo } from '../../local/dynamo';
import { LOCAL_NAMES } from '../../local/system';
import type { StackOutputs } from '../../protocol/outputs';
import { openSocket, type Client } from './auth-fixtures';
import { REPO_ROOT, scanTable, sdkClients } from './system-helpers';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants';

/** `npm start -- ARGS` as a terminal runs it: its own process group, npm's banner silenced. */
function npmStart(args: string[]) {
  const child = spawn('npm', ['start', '--silent', '--', ...args], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const outputs = new Promise<StackOutputs>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      const newline = stdout.indexOf('\n');
      if (newline >= 0) resolve(JSON.parse(stdout.slice(0, newline)) as StackOutputs);
    });
    void exited.then(({ code }) => reject(new Error(`exited (${code}) before printing the outputs: ${stderr}`)));
  });
  outputs.catch(() => undefined);
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  return { outputs, exited, stderr: () => stderr, group };
}

describe('Ctrl-C on npm start', function () {
  // The child compiles the TypeScript sources on start, and 40 clients disconnect on the way out.
  this.timeout(90_000);
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('SIGINT to the process group runs every $disconnect and exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'realtime-ctrl-c-'));
    dirs.push(dataDir);
    const cli = npmStart(['--port', '0', '--json', '--quiet', '--data', dataDir]);
    const clients: Client[] = [];
    try {
      const outputs = await cli.outputs;
      for (let i = 0; i < 40; i++) clients.push(await openSocket(outputs.websocketUrl));
      for (const [i, client] of clients.entries()) {
        expect(await client.request({ action: 'subscribe', topics: [`room/${i % 4}`, 'all'] })).to.deep.include({ type: 'subscribed' });
      }
      const aws = sdkClients(outputs);
      expect(await scanTable(aws.dynamodb, outputs.tableName)).to.have.length(120);
      aws.destroy();

      cli.group('SIGINT');
      expect(await cli.exited, cli.stderr()).to.deep.equal({ code: 0, signal: null });
      // Every socket was closed by the server (1001 Going away), none cut.
      expect(await Promise.all(clients.map((c) => c.closed()))).to.satisfy((codes: number[]) => codes.every((code) => code === 1001));
    } finally {
      cli.group('SIGKILL');
    }

    // The table as the stopped system left it: every $disconnect deleted its rows.
    const dynamo = await startDynamo({ tableName: LOCAL_NAMES.tableName, dataDir });
    const dynamodb = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    try {
      expect(dynamo.reused).to.equal(true);
      expect(await scanTable(dynamodb, LOCAL_NAMES.tableName)).to.deep.equal([]);
    } finally {
      dynamodb.destroy();
      await dynamo.close();
    }
  });
});
