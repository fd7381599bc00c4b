/**
 * The local mode's activity lines: events built from what the gateway and the publish and
 * delivery functions observe (startLocal's onActivity), their text and JSON forms, the
 * --log-format flag, and `npm start` printing them (spawned).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { formatJson, formatText, fromGateway, printable, type ActivityEvent } from '../../local/activity';
import { startGateway, type GatewayActivity } from '../../local/gateway';
import { mintToken } from '../../local/auth-token';
import { parseCli } from '../../local/cli-options';
import { startLocal, type LocalSystem } from '../../local/system';
import { ENV } from '../../protocol/env';
import { sendEnvelope } from '../client/local-helpers';
import { openSocket, refusedStatus, withToken } from './auth-fixtures';
import { eventually, REPO_ROOT, startCli } from './system-helpers';

type Of<K extends ActivityEvent['event']> = Extract<ActivityEvent, { event: K }>;

describe('activity events and lines', () => {
  const at = new Date(2026, 0, 2, 3, 4, 5, 6); // local time: the clock prints 03:04:05.006

  it('formats each event as one readable line, and as JSON with its time', () => {
    const lines = ([
      { event: 'connect', connectionId: 'AbC123=', sourceIp: '127.0.0.1', principal: 'alice' },
      { event: 'connect-refused', status: 401, sourceIp: '127.0.0.1', by: 'authorizer' },
      { event: 'disconnect', connectionId: 'AbC123=', code: 1001, reason: 'Going away', seconds: 75.2 },
      { event: 'subscribe', connectionId: 'AbC123=', topics: ['a', 'b'], positions: { a: { epoch: 'e1', seq: 4 }, b: { epoch: 'e2', seq: 0 } } },
      { event: 'subscribe', connectionId: 'AbC123=', topics: ['a'], positions: { a: { epoch: 'e1', seq: 9 } }, resumed: { a: { from: 4, recovered: true } } },
      { event: 'subscribe', connectionId: 'AbC123=', topics: ['a'], positions: { a: { epoch: 'e1', seq: 9 } }, resumed: { a: { from: 1, recovered: false } } },
      { event: 'unsubscribe', connectionId: 'AbC123=', topics: ['a', 'b', 'c', 'd', 'e'] },
      { event: 'error', connectionId: 'AbC123=', action: 'subscribe', code: 'FORBIDDEN' },
      { event: 'error', connectionId: 'AbC123=', action: 'message', code: 'FUNCTION_FAILED' },
      { event: 'publish', id: 'm-1', status: 'delivered', topics: ['a'], positions: { a: { epoch: 'e1', seq: 5 } }, subscribers: 2, delivered: 1, gone: 1, queued: 0 },
      { event: 'publish', id: 'm-2', status: 'queued', topics: ['big'], subscribers: 1200, delivered: 1000, gone: 0, queued: 200 },
      { event: 'publish', id: 'm-3', status: 'rejected', topics: [], subscribers: 0, delivered: 0, gone: 0, queued: 0, reason: 'not JSON' },
      { event: 'publish', id: 'm-4', status: 'failed', topics: [], subscribers: 0, delivered: 0, gone: 0, queued: 0, reason: 'throttled' },
      { event: 'deliver', id: 'm-2', topic: 'big', kind: 'slice', attempt: 0, connections: 200, delivered: 199, gone: 1, queued: 0 },
      { event: 'deliver', id: 'm-2', topic: 'big', kind: 'retry', attempt: 2, connections: 1, delivered: 0, gone: 0, queued: 1 },
    ] as ActivityEvent[]).map((e) => formatText(e, { at }));
    expect(lines).to.deep.equal([
      '03:04:05.006  connect     AbC123=  from 127.0.0.1 as alice',
      '03:04:05.006  refused     connection from 127.0.0.1: 401 from the authorizer',
      '03:04:05.006  disconnect  AbC123=  1001 Going away, after 1 min 15 s',
      '03:04:05.006  subscribe   AbC123=  a (at 4), b (at 0)',
      '03:04:05.006  subscribe   AbC123=  a resumed from 4, at 9',
      '03:04:05.006  subscribe   AbC123=  a resumed from 1 NOT recovered (a gap), at 9',
      '03:04:05.006  unsubscribe AbC123=  a, b, c and 2 more',
      '03:04:05.006  error       AbC123=  subscribe refused: FORBIDDEN',
      "03:04:05.006  error       AbC123=  message failed: the function threw (see the handler's log)",
      '03:04:05.006  publish     m-1  a #5 → 2 subscribers: 1 delivered, 1 gone',
      '03:04:05.006  publish     m-2  big → 1200 subscribers: 1000 delivered, 200 queued for the delivery function',
      '03:04:05.006  publish     m-3  rejected, not retried: not JSON',
      '03:04:05.006  publish     m-4  failed, will be retried: throttled',
      '03:04:05.006  deliver     m-2  big slice job → 200 connections: 199 delivered, 1 gone',
      '03:04:05.006  deliver     m-2  big retry 2 job → 1 connection: 0 delivered, 1 queued again',
    ]);
    const json = JSON.parse(formatJson({ event: 'connect', connectionId: 'AbC123=', sourceIp: '127.0.0.1' }, { at }));
    expect(json).to.deep.equal({ time: at.toISOString(), event: 'connect', connectionId: 'AbC123=', sourceIp: '127.0.0.1' });
  });

  it('colors the label and time only when asked (a terminal)', () => {
    const event: ActivityEvent = { event: 'connect', connectionId: 'X', sourceIp: '127.0.0.1' };
    expect(formatText(event, { at })).to.not.include('\x1b[');
    expect(formatText(event, { at, color: true })).to.equal('\x1b[2m03:04:05.006\x1b[0m  \x1b[32mconnect     \x1b[0mX  from 127.0.0.1');
  });

  it("keeps only a short printable prefix of what a client chose, and never an error reply's topics", () => {
    expect(printable('bye\x1b[31mred\u009b2J')).to.equal('bye\ufffd[31mred\ufffd2J');
    expect(printable('x'.repeat(100))).to.have.length(64).and.match(/…$/);
    const closed = fromGateway({ type: 'disconnect', connectionId: 'C', code: 4000, reason: `\x1b]0;owned\x07${'y'.repeat(200)}`, connectedAt: Date.now() }) as Of<'disconnect'>;
    expect(closed.reason).to.not.match(/[\x00-\x1f]/);
    expect(closed.reason.length).to.be.at.most(64);
    const refused = fromGateway({
      type: 'route',
      connectionId: 'C',
      routeKey: 'subscribe',
      body: '{"action":"subscribe","topics":["\\u001b[2J evil"]}',
      reply: JSON.stringify({ type: 'error', code: 'INVALID_TOPIC', message: 'invalid topic name(s)', topics: ['\x1b[2J evil'] }),
      failed: false,
    });
    expect(refused).to.deep.equal({ event: 'error', connectionId: 'C', action: 'subscribe', code: 'INVALID_TOPIC' });
    expect(fromGateway({ type: 'route', connectionId: 'C', routeKey: 'subscribe', body: '{}', failed: true })).to.deep.equal({ event: 'error', connectionId: 'C', action: 'subscribe', code: 'FUNCTION_FAILED' });
  });

  it('--log-format: text by default, json with --json, none with --quiet unless given; bad values refused', () => {
    const parse = (...argv: string[]) => parseCli(argv, { writeErr: () => undefined, writeOut: () => undefined });
    expect(parse().activity).to.equal('text');
    expect(parse('--json').activity).to.equal('json');
    expect(parse('--json', '--log-format', 'text').activity).to.equal('text');
    expect(parse('--log-format', 'json').activity).to.equal('json');
    expect(parse('--quiet').activity).to.equal(undefined);
    expect(parse('--quiet', '--json').activity).to.equal(undefined);
    expect(parse('--quiet', '--log-format', 'text').activity).to.equal('text');
    expect(() => parse('--log-format', 'xml')).to.throw(CommanderError, /--log-format.*xml/);
  });
});

describe("the gateway's onActivity", () => {
  it('hears of each connect, routed message (with its reply) and disconnect; an observer that throws is reported and changes nothing', async () => {
    const heard: GatewayActivity[] = [];
    const reported: string[] = [];
    const gateway = await startGateway({
      routes: { $connect: async () => ({ statusCode: 200 }), $default: async () => ({ statusCode: 200, body: '{"type":"echo"}' }) },
      twoWayRoutes: new Set(['$default']),
      onActivity: (a) => {
        heard.push(a);
        throw new Error('observer broke');
      },
      onHandlerError: (err, routeKey) => reported.push(`${routeKey}: ${(err as Error).message}`),
    });
    try {
      const conn = await gateway.connectVirtual();
      expect(await conn.send('hello')).to.equal('{"type":"echo"}');
      await conn.close(1000, 'done');
      expect(heard.map((a) => a.type)).to.deep.equal(['connect', 'route', 'disconnect']);
      expect(heard[1]).to.deep.equal({ type: 'route', connectionId: conn.connectionId, routeKey: '$default', body: 'hello', reply: '{"type":"echo"}', failed: false });
      expect(heard[2]).to.include({ type: 'disconnect', connectionId: conn.connectionId, code: 1000, reason: 'done' });
      expect(reported).to.deep.equal(['onActivity: observer broke', 'onActivity: observer broke', 'onActivity: observer broke']);
    } finally {
      await gateway.close();
    }
  });
});

describe('activity events from a running local system', function () {
  this.timeout(30_000);
  let system: LocalSystem | undefined;
  const events: ActivityEvent[] = [];

  afterEach(async () => {
    await system?.stop();
    system = undefined;
    events.length = 0;
  });

  const start = async (options: Parameters<typeof startLocal>[0] = {}) => {
    system = await startLocal({ quiet: true, onActivity: (e) => events.push(e), ...options });
    return system;
  };
  const find = <K extends ActivityEvent['event']>(kind: K, match: (e: Of<K>) => boolean = () => true) =>
    events.filter((e): e is Of<K> => e.event === kind && match(e as Of<K>));
  const waitFor = <K extends ActivityEvent['event']>(kind: K, match: (e: Of<K>) => boolean = () => true) =>
    eventually(() => find(kind, match)[0], `a ${kind} event`);

  it('a connection, its subscribe, a publish with its delivery summary, a resume, an unsubscribe, a refusal and its end', async () => {
    const { outputs } = await start();
    const client = await openSocket(outputs.websocketUrl);
    const connect = await waitFor('connect');
    const id = connect.connectionId;
    expect(connect).to.deep.equal({ event: 'connect', connectionId: id, sourceIp: '127.0.0.1' });

    const subscribed = await client.request({ action: 'subscribe', topics: ['act/a'] });
    const epoch = (subscribed.positions as Record<string, { epoch: string }>)['act/a'].epoch;
    expect(await waitFor('subscribe')).to.deep.equal({ event: 'subscribe', connectionId: id, topics: ['act/a'], positions: { 'act/a': { epoch, seq: 0 } } });

    const messageId = await sendEnvelope(outputs, { topic: 'act/a', data: { n: 1 } });
    await client.next((f) => f.type === 'message', 'the message');
    expect(await waitFor('publish')).to.deep.equal({
      event: 'publish',
      id: messageId,
      status: 'delivered',
      topics: ['act/a'],
      positions: { 'act/a': { epoch, seq: 1 } },
      subscribers: 1,
      delivered: 1,
      gone: 0,
      queued: 0,
    });

    // Subscribing again with `since` replays and says so.
    await client.request({ action: 'subscribe', topics: ['act/a'], since: { 'act/a': { epoch, seq: 0 } } });
    expect(await waitFor('subscribe', (e) => e.resumed !== undefined)).to.deep.include({ resumed: { 'act/a': { from: 0, recovered: true } }, positions: { 'act/a': { epoch, seq: 1 } } });

    await client.request({ action: 'unsubscribe', topics: ['act/a'] });
    expect(await waitFor('unsubscribe')).to.deep.equal({ event: 'unsubscribe', connectionId: id, topics: ['act/a'] });
    await client.request('{"action":"shout"}');
    expect(await waitFor('error')).to.deep.equal({ event: 'error', connectionId: id, action: 'message', code: 'UNKNOWN_ACTION' });

    // An envelope that can never be delivered is a publish line too.
    await sendEnvelope(outputs, { topic: 'no spaces allowed', data: 1 });
    expect(await waitFor('publish', (e) => e.status === 'rejected')).to.include({ event: 'publish', status: 'rejected' }).and.have.property('reason').that.matches(/topic/);

    await client.close();
    const ended = await waitFor('disconnect');
    expect(ended).to.include({ event: 'disconnect', connectionId: id, code: 1005 });
    expect(ended.seconds).to.be.a('number').at.least(0);
  });

  it("delivery jobs: a topic's subscribers sliced off to the delivery function each get a deliver line", async () => {
    // No subscriber is delivered inline: all of them go to slice jobs.
    const { outputs } = await start({ env: { [ENV.sliceThreshold]: '0' } });
    const clients = await Promise.all([1, 2].map(() => openSocket(outputs.websocketUrl)));
    for (const c of clients) await c.request({ action: 'subscribe', topics: ['act/sliced'] });
    const messageId = await sendEnvelope(outputs, { topic: 'act/sliced', data: 'x' });
    for (const c of clients) await c.next((f) => f.type === 'message', 'the sliced message');
    expect(await waitFor('publish')).to.deep.include({ id: messageId, status: 'queued', subscribers: 2, delivered: 0, queued: 2 });
    expect(await waitFor('deliver')).to.deep.equal({ event: 'deliver', id: messageId, topic: 'act/sliced', kind: 'slice', attempt: 0, connections: 2, delivered: 2, gone: 0, queued: 0 });
    await Promise.all(clients.map((c) => c.close()));
  });

  it('auth on: a handshake without a token is a refusal by the authorizer; a token names its principal', async () => {
    const { outputs } = await start({ authSecret: 'activity-secret' });
    // The demo page reads it from /config.json to say a token is required.
    expect(await (await fetch(`${outputs.demoUrl}config.json`)).json()).to.include({ authRequired: true });
    expect(await refusedStatus(outputs.websocketUrl)).to.equal(401);
    expect(await waitFor('connect-refused')).to.deep.equal({ event: 'connect-refused', status: 401, sourceIp: '127.0.0.1', by: 'authorizer' });
    const token = await mintToken({ secret: 'activity-secret', sub: 'alice', topics: ['act/*'] });
    const client = await openSocket(withToken(outputs.websocketUrl, token));
    expect(await waitFor('connect')).to.include({ principal: 'alice' });
    await client.close();
  });

  it('a page of an origin not allowed is a refusal by the origin check', async () => {
    const { outputs } = await start();
    const refused = await new Promise<number>((resolve, reject) => {
      void import('ws').then(({ default: WebSocket }) => {
        const ws = new WebSocket(outputs.websocketUrl, { headers: { Origin: 'https://evil.example' } });
        ws.once('unexpected-response', (_req, res) => {
          res.resume();
          ws.terminate();
          resolve(res.statusCode ?? 0);
        });
        ws.once('open', () => reject(new Error('accepted')));
        ws.on('error', () => undefined);
      });
    });
    expect(refused).to.equal(403);
    expect(await waitFor('connect-refused')).to.deep.equal({ event: 'connect-refused', status: 403, sourceIp: '127.0.0.1', by: 'origin' });
  });
});

describe('npm start prints the activity lines (spawned)', function () {
  // Each child compiles the TypeScript sources on start: allow for a slow machine.
  this.timeout(40_000);

  /** Connect, subscribe, publish and receive, then SIGINT: every line is written once the process has exited. */
  async function session(args: string[]): Promise<{ lines: string[]; messageId: string; connectionId?: string }> {
    const cli = startCli(['--json', '--port', '0', ...args]);
    try {
      const outputs = await cli.outputs;
      const client = await openSocket(outputs.websocketUrl);
      await client.request({ action: 'subscribe', topics: ['tty/demo'] });
      const messageId = await sendEnvelope(outputs, { topic: 'tty/demo', data: { hello: 'terminal' } });
      await client.next((f) => f.type === 'message', 'the message');
      // The publish line follows the delivery: wait for it unless the lines are off.
      if (!args.includes('--quiet')) await eventually(() => cli.stdout().includes(messageId), 'the publish line');
      cli.signal('SIGINT');
      expect(await cli.exited).to.deep.equal({ code: 0, signal: null });
      const lines = cli.stdout().split('\n').slice(1).filter((l) => l !== '');
      return { lines, messageId };
    } finally {
      cli.signal('SIGKILL');
    }
  }

  it('--log-format text: one readable line per connect, subscribe, publish (with its delivery summary) and disconnect', async () => {
    const { lines, messageId } = await session(['--log-format', 'text']);
    const time = String.raw`\d\d:\d\d:\d\d\.\d{3}  `;
    const conn = /connect {5}(\S+) {2}from 127\.0\.0\.1$/.exec(lines[0])?.[1];
    expect(conn, lines.join('\n')).to.be.a('string');
    expect(lines).to.have.length(4);
    expect(lines[0]).to.match(new RegExp(`^${time}connect {5}${conn} {2}from 127\\.0\\.0\\.1$`));
    expect(lines[1]).to.match(new RegExp(`^${time}subscribe {3}${conn} {2}tty/demo \\(at 0\\)$`));
    expect(lines[2]).to.match(new RegExp(`^${time}publish {5}${messageId} {2}tty/demo #1 → 1 subscriber: 1 delivered$`));
    expect(lines[3]).to.match(new RegExp(`^${time}disconnect {2}${conn} {2}1001 Going away, after \\d+\\.\\d s$`));
  });

  it('--json: the lines are JSON objects too, so stdout stays JSON throughout', async () => {
    const { lines, messageId } = await session([]);
    const events = lines.map((l) => JSON.parse(l) as ActivityEvent & { time: string });
    expect(events.map((e) => e.event)).to.deep.equal(['connect', 'subscribe', 'publish', 'disconnect']);
    for (const e of events) expect(Date.parse(e.time)).to.not.be.NaN;
    expect(events[2]).to.deep.include({ id: messageId, status: 'delivered', topics: ['tty/demo'], subscribers: 1, delivered: 1 });
  });

  it('--quiet: no lines at all', async () => {
    const { lines } = await session(['--quiet']);
    expect(lines).to.deep.equal([]);
  });

  it('at a terminal (a pseudo-terminal from script(1)) the default is readable lines, colored, and no Node warning shows', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color' };
    delete env.NO_COLOR;
    delete env.FORCE_COLOR;
    // Node's hasColors() answers "2 colors" whenever CI is set, as it is where CI runs this suite.
    delete env.CI;
    // As a user's shell runs it: npm start itself keeps the AWS SDK's Node 20 notice away.
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const child = spawn('script', ['-qfec', `${pkg.scripts.start} --port 0`, '/dev/null'], { cwd: REPO_ROOT, detached: true, stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      const url = (await eventually(() => /WebSocket {3}(ws:\/\/\S+)/.exec(out)?.[1], 'the banner', 30_000)).trim();
      const client = await openSocket(url);
      // A green label, a dimmed time: the colors a terminal gets.
      await eventually(() => /\x1b\[2m\d\d:\d\d:\d\d\.\d{3}\x1b\[0m {2}\x1b\[32mconnect {5}\x1b\[0m\S+ {2}from 127\.0\.0\.1/.test(out), 'a colored connect line');
      await client.close();
      expect(out).to.not.match(/Warning/);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
      await exited;
    }
  });
});
