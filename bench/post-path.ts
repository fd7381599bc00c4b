/**
 * CPU per delivery of PostToConnection, by delivery path: the AWS SDK v3 client (as the publish
 * function used it), our lean client (functions/lib/delivery/), and the candidates it was picked
 * from: aws4 as the lean client's signer; the SDK's own signer (@smithy/signature-v4, async, so
 * beside ours on a minimal keep-alive POST); and fetch (Node's built-in undici) as transport.
 *
 *   npx tsx bench/post-path.ts [--requests 4000] [--repeats 5] [--concurrency 64] [--bytes 200] [--quick]
 *
 * The server runs in another process, so only the client's CPU is counted: process.cpuUsage()
 * (user + system, every thread of this process: GC included) over N posts kept C in flight,
 * divided by N. Each repeat runs every path once, in a rotated order, after a garbage
 * collection; the table gives the median and the spread (min–max) of the repeats. A second table
 * gives each signer alone (CPU per signature), and every signer's Authorization header is first
 * checked against @smithy/signature-v4's for the same request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import aws4 from 'aws4';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@smithy/core/checksum';
import { ManagementApi, type Poster, type RequestSigner } from '../functions/lib/delivery/management-api';
import { escapeUri, SigV4Signer, type Credentials } from '../functions/lib/delivery/sigv4';
import { SdkPoster } from './lib/sdk-poster';
import { median } from './lib/stats';

const REGION = 'us-east-1';
const SERVICE = 'execute-api';
const CREDENTIALS: Credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench/secret+key', sessionToken: 'bench-session-token' };
const TIMEOUTS = { connectTimeoutMs: 1000, requestTimeoutMs: 3000 };

export interface Options {
  requests: number;
  repeats: number;
  concurrency: number;
  bytes: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { requests: 4000, repeats: 5, concurrency: 64, bytes: 200 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') Object.assign(options, { requests: 300, repeats: 2 });
    else if (['--requests', '--repeats', '--concurrency', '--bytes'].includes(arg)) {
      const value = Number(argv[++i]);
      if (!Number.isInteger(value) || value < 1) throw new Error(`${arg} needs a whole number ≥ 1, got ${argv[i]}`);
      options[arg.slice(2) as keyof Options] = value;
    } else throw new Error(`unknown argument ${arg}`);
  }
  return options;
}

/** A management API stand-in in a child process: answers like the local gateway (200, request id, empty body). */
const SERVER = `
const http = require('node:http');
let n = 0;
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(req.url.includes('/@connections/') && req.method === 'POST' ? 200 : 403, { 'x-amzn-RequestId': 'r-' + ++n, 'Content-Length': 0 });
    res.end();
  });
});
server.keepAliveTimeout = 0; // never close an idle socket: a client reusing it at that moment would fail
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.stdin.on('end', () => process.exit(0)).resume();
`;

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, port: Number(chunk.toString().trim()) };
}

/** A POST over a keep-alive agent with the least work around it: the transport the signers are compared on. */
function rawPost(agent: Agent, port: number, path: string, headers: Record<string, string | number>, body: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ method: 'POST', hostname: '127.0.0.1', port, path, headers, agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface PathUnderTest {
  name: string;
  poster: Poster;
  close(): void;
}

/** aws4 as the lean client's signer. It signs the Content-Type and Content-Length it is given too, which the client sends unchanged. */
const aws4Signer = (region: string): RequestSigner => ({
  sign: (req, credentials) => {
    const headers: Record<string, string> = req.body ? { 'content-type': 'application/octet-stream' } : {};
    const body = req.body ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength) : undefined;
    const signed = aws4.sign({ service: SERVICE, region, method: req.method, host: req.host, path: req.path, headers, body }, credentials).headers!;
    // Lower-case names: the client sets content-type and content-length itself, to the same values.
    return Object.fromEntries(Object.entries(signed).map(([k, v]) => [k.toLowerCase(), String(v)]));
  },
});

function paths(port: number, concurrency: number): PathUnderTest[] {
  const endpoint = `http://127.0.0.1:${port}/prod`;
  const host = `127.0.0.1:${port}`;
  const pathOf = (id: string) => `/prod/@connections/${escapeUri(id)}`;
  const agent = () => new Agent({ keepAlive: true, maxSockets: concurrency });
  const lean = (signer?: RequestSigner) => new ManagementApi({ endpoint, region: REGION, credentials: () => CREDENTIALS, maxSockets: concurrency, ...TIMEOUTS, signer });

  const sdk = new SdkPoster({ endpoint, region: REGION, credentials: CREDENTIALS, maxSockets: concurrency, ...TIMEOUTS });
  const ours = lean();
  const withAws4 = lean(aws4Signer(REGION));

  const hand = new SigV4Signer(REGION, SERVICE);
  const handAgent = agent();
  const smithy = new SignatureV4({ service: SERVICE, region: REGION, credentials: CREDENTIALS, sha256: Sha256 });
  const smithyAgent = agent();

  return [
    { name: 'AWS SDK v3 client (before)', poster: sdk, close: () => sdk.destroy() },
    { name: '**lean client: hand SigV4 + node:http (functions/lib/delivery)**', poster: ours, close: () => ours.destroy() },
    { name: 'lean client with aws4 as its signer', poster: withAws4, close: () => withAws4.destroy() },
    {
      name: 'hand SigV4 + minimal node:http POST',
      poster: {
        post: (id, data) => {
          const path = pathOf(id);
          return rawPost(handAgent, port, path, { host, ...hand.sign({ method: 'POST', host, path, body: data }, CREDENTIALS), 'content-length': data.byteLength }, data);
        },
      },
      close: () => handAgent.destroy(),
    },
    {
      name: '@smithy/signature-v4 (async) + minimal node:http POST',
      poster: {
        post: async (id, data) => {
          const path = pathOf(id);
          const signed = await smithy.sign({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path, query: {}, headers: { host }, body: data });
          return rawPost(smithyAgent, port, path, { ...(signed.headers as Record<string, string>), 'content-length': data.byteLength }, data);
        },
      },
      close: () => smithyAgent.destroy(),
    },
    {
      name: 'hand SigV4 + fetch (built-in undici)',
      poster: {
        post: async (id, data) => {
          const path = pathOf(id);
          const res = await fetch(`http://${host}${path}`, { method: 'POST', headers: hand.sign({ method: 'POST', host, path, body: data }, CREDENTIALS), body: data as unknown as ArrayBuffer });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        },
      },
      close: () => undefined,
    },
  ];
}

/** Post `n` times with `concurrency` in flight; returns CPU µs per post and posts per wall second. */
async function measure(poster: Poster, n: number, concurrency: number, frame: Uint8Array): Promise<{ cpuUs: number; perSecond: number }> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await poster.post(`conn${i % 1000}=`, frame);
    }
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / n, perSecond: (n * 1000) / wallMs };
}

/** CPU µs per signature of each signer alone, after checking it signs as @smithy/signature-v4 does. */
async function signers(n: number): Promise<{ name: string; us: number; matches: boolean }[]> {
  const host = 'abcdefghij.execute-api.us-east-1.amazonaws.com';
  const path = `/prod/@connections/${escapeUri('L0SM9cOFvHcCIhw=')}`;
  const body = new TextEncoder().encode(JSON.stringify({ type: 'message', topic: 'bench', id: 'm', data: 'x'.repeat(120) }));
  const at = Date.UTC(2026, 0, 2, 3, 4, 5);
  const smithy = new SignatureV4({ service: SERVICE, region: REGION, credentials: CREDENTIALS, sha256: Sha256 });
  const hand = new SigV4Signer(REGION, SERVICE);
  const smithySign = async (date = new Date(at)) =>
    (await smithy.sign({ method: 'POST', protocol: 'https:', hostname: host, path, query: {}, headers: { host }, body }, { signingDate: date })).headers.authorization;
  const aws4Sign = (date = new Date(at)) =>
    aws4.sign({ service: SERVICE, region: REGION, method: 'POST', host, path, headers: { 'X-Amz-Date': date.toISOString().replace(/[:-]|\.\d{3}/g, '') }, body: Buffer.from(body) }, CREDENTIALS)
      .headers!.Authorization as string;
  const handSign = (date = at) => hand.sign({ method: 'POST', host, path, body }, CREDENTIALS, date).authorization;

  const expected = await smithySign();
  // aws4 signs its Content-Type and Content-Length too, and no x-amz-content-sha256 (which it adds for S3 only).
  const smithyPlain = new SignatureV4({ service: SERVICE, region: REGION, credentials: CREDENTIALS, sha256: Sha256, applyChecksum: false });
  const smithyOf = async (headers: Record<string, string>) =>
    (await smithyPlain.sign({ method: 'POST', protocol: 'https:', hostname: host, path, query: {}, headers: { host, ...headers }, body }, { signingDate: new Date(at) })).headers.authorization;
  const aws4Expected = await smithyOf({ 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'content-length': String(body.byteLength) });

  const time = async (fn: () => unknown) => {
    for (let i = 0; i < 500; i++) await fn();
    const cpu = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn();
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / n;
  };
  return [
    { name: '@smithy/signature-v4 (the SDK\'s signer)', us: await time(() => smithySign()), matches: true },
    { name: 'aws4', us: await time(() => aws4Sign()), matches: aws4Sign() === aws4Expected },
    { name: 'hand SigV4, node:crypto, cached key (functions/lib/delivery/sigv4.ts)', us: await time(() => handSign()), matches: handSign() === expected },
  ];
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export interface PostPathResults {
  options: Options;
  frameBytes: number;
  /** Per path, one value per repeat. */
  paths: { name: string; cpuUs: number[]; perSecond: number[] }[];
  signers: { name: string; us: number; matches: boolean }[];
}

export async function runPostPath(options: Options, progress: (line: string) => void = () => undefined): Promise<PostPathResults> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // the SDK's Node 20 notice, once per client
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const frame = new TextEncoder().encode(JSON.stringify({ type: 'message', topic: 'bench', id: 'm-1', data: 'x'.repeat(Math.max(0, options.bytes - 60)), publishedAt: new Date(0).toISOString() }));
  const { child, port } = await startServer();
  const under = paths(port, options.concurrency);
  try {
    const results = under.map((p) => ({ name: p.name, cpuUs: [] as number[], perSecond: [] as number[] }));
    progress(`post-path: ${under.length} paths × ${options.repeats} repeats × ${options.requests} posts, ${options.concurrency} in flight, ${frame.byteLength}-byte frames`);
    for (const p of under) await measure(p.poster, Math.min(1000, options.requests), options.concurrency, frame); // warm-up: JIT, sockets
    for (let r = 0; r < options.repeats; r++) {
      // Rotate the order so no path always runs first (or right after the SDK's garbage).
      for (let k = 0; k < under.length; k++) {
        const i = (k + r) % under.length;
        gc();
        const m = await measure(under[i].poster, options.requests, options.concurrency, frame);
        results[i].cpuUs.push(m.cpuUs);
        results[i].perSecond.push(m.perSecond);
      }
      progress(`post-path: repeat ${r + 1}/${options.repeats} done`);
    }
    return { options, frameBytes: frame.byteLength, paths: results, signers: await signers(options.requests * 5) };
  } finally {
    for (const p of under) p.close();
    child.stdin!.end();
    child.kill();
  }
}

export function renderPostPath(results: PostPathResults): string {
  const { options } = results;
  const sdkMedian = median(results.paths[0].cpuUs);
  return [
    `CPU per delivery (client process only; ${options.repeats} repeats × ${options.requests} posts, ${options.concurrency} in flight, ${results.frameBytes}-byte frame, Node.js ${process.version}):`,
    '',
    '| Delivery path | CPU µs/delivery, median | spread (min–max) | SDK ÷ this | posts/s (wall), median |',
    '|---|---:|---:|---:|---:|',
    ...results.paths.map(({ name, cpuUs, perSecond }) => {
      const m = median(cpuUs);
      return `| ${name} | ${fmt(m)} | ${fmt(Math.min(...cpuUs))}–${fmt(Math.max(...cpuUs))} | ${fmt(sdkMedian / m, 2)}× | ${fmt(median(perSecond), 0)} |`;
    }),
    '',
    'Signers alone (CPU µs per signature of one 200-byte POST; Authorization checked against @smithy/signature-v4):',
    '',
    "| Signer | CPU µs/signature | same signature as the SDK's signer |",
    '|---|---:|---|',
    ...results.signers.map((s) => `| ${s.name} | ${fmt(s.us, 2)} | ${s.matches ? 'yes' : '**no**'} |`),
  ].join('\n');
}

if (require.main === module) {
  runPostPath(parseArgs(process.argv.slice(2)), (line) => process.stderr.write(`${line}\n`)).then(
    (results) => process.stdout.write(`${renderPostPath(results)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
