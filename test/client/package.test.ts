/**
 * The client as an installable package: build it, `npm pack` it, install the tarball into a
 * fresh project in the temp directory (offline: no registry involved), and use it there — from
 * Node (type-checked by tsc, then run against an in-test server) and from a browser bundle
 * (esbuild, browser platform: no Node built-ins, no `ws`, at most 12 KB gzipped).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { buildClientPackage, CLIENT_DIR, ROOT } from '../../client/build';
import { FakeServer } from './fake-server';
import { eventually } from './local-helpers';

const run = promisify(execFile);
const MAX_BROWSER_GZIP_BYTES = 12 * 1024;
const NAME = 'aws-realtime-pubsub-client';

/** A consumer's Node program: typed against the package's declarations (tsc checks it), run with node. */
const NODE_MAIN = `
import { RealtimeClient, RealtimeError, type DeliveredMessage, type Gap, type StreamPosition } from '${NAME}';

declare const process: { env: Record<string, string | undefined>; stdout: { write(text: string): void }; exitCode?: number };

const client = new RealtimeClient({ url: process.env.REALTIME_URL!, reconnect: { maxDelayMs: 1000 } });
client.on('gap', (gap: Gap) => process.stdout.write(JSON.stringify({ gap }) + '\\n'));
client.on('error', (err: RealtimeError) => process.stdout.write(JSON.stringify({ error: err.code }) + '\\n'));
// @ts-expect-error: topics are strings (proves the declarations are real types, not any)
export const notATopic: Parameters<typeof client.subscribe>[0] = 42;
await client.subscribe('orders/1', (message: DeliveredMessage) => {
  const positions: Record<string, StreamPosition> = client.positions();
  process.stdout.write(JSON.stringify({ id: message.id, seq: message.seq, data: message.data, positions }) + '\\n');
  client.close();
});
process.stdout.write(JSON.stringify({ subscribed: true }) + '\\n');
`;

const BROWSER_ENTRY = `
import { RealtimeClient } from '${NAME}';
const client = new RealtimeClient({ url: 'wss://example.invalid/prod' });
client.on('gap', (gap) => console.log('reload', gap.topic));
void client.subscribe('orders/1', (message) => console.log(message.data));
`;

describe('client package (npm pack, installed into a fresh project)', function () {
  this.timeout(120_000);
  let work: string;
  let project: string;
  let tarball: string;
  let server: FakeServer | undefined;

  before(async () => {
    await buildClientPackage();
    work = await mkdtemp(path.join(os.tmpdir(), 'realtime-client-pack-'));
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: CLIENT_DIR });
    tarball = path.join(work, (JSON.parse(packed.stdout) as { filename: string }[])[0].filename);
    project = path.join(work, 'consumer');
    await run('mkdir', ['-p', project]);
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
    // Offline: the tarball, and `ws` (Node 20 has no global WebSocket) from this repository's node_modules.
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball, path.join(ROOT, 'node_modules', 'ws')], { cwd: project });
  });

  after(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('packs only the built files, with no dependencies (ws an optional peer)', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n').sort();
    expect(files).to.include.members(['package/package.json', 'package/LICENSE', 'package/dist/index.js', 'package/dist/browser.js', 'package/dist/types/client/index.d.ts']);
    // The package says MIT: it carries the repository's license text, word for word.
    expect(await readFile(path.join(project, 'node_modules', NAME, 'LICENSE'), 'utf8')).to.equal(await readFile(path.join(ROOT, 'LICENSE'), 'utf8'));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no TypeScript sources').to.deep.equal([]);
    const manifest = JSON.parse(await readFile(path.join(project, 'node_modules', NAME, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.type).to.equal('module');
    expect(manifest.dependencies).to.equal(undefined);
    expect(manifest.peerDependenciesMeta).to.deep.equal({ ws: { optional: true } });
    const installed = await readdir(path.join(project, 'node_modules'));
    expect(installed.filter((d) => !d.startsWith('.')).sort()).to.deep.equal([NAME, 'ws'].sort());
    for (const file of ['dist/index.js', 'dist/browser.js']) {
      expect(await readFile(path.join(project, 'node_modules', NAME, file), 'utf8'), file).not.to.match(/from ["']zod["']|require\(["']zod/);
    }
  });

  it('works from Node: type-checked by tsc, connects, subscribes and receives a message', async () => {
    await writeFile(path.join(project, 'main.ts'), NODE_MAIN);
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['ES2022'], types: [], strict: true, outDir: 'out' }, files: ['main.ts'] }),
    );
    // tsc fails on a type error, including an unused @ts-expect-error (declarations that are `any`).
    await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project]).catch((err: { stdout?: string }) => {
      throw new Error(`tsc failed in the consumer project:\n${err.stdout}`);
    });

    server = await new FakeServer().start();
    const srv = server;
    const child = run(process.execPath, [path.join(project, 'out', 'main.js')], { cwd: project, env: { ...process.env, REALTIME_URL: srv.url }, timeout: 30_000 });
    await eventually(() => srv.open().some((c) => c.topics.has('orders/1')), 'the consumer to subscribe');
    srv.publish('orders/1', 'from-test', { hello: 'node' });
    const { stdout } = await child.catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`the consumer failed:\n${err.stdout}\n${err.stderr}`);
    });
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    // The message may come before subscribe() resolves: the server subscribes, then replies.
    expect(lines).to.have.deep.members([{ subscribed: true }, { id: 'from-test', seq: 1, data: { hello: 'node' }, positions: { 'orders/1': srv.position('orders/1') } }]);
  });

  it(`bundles for the browser without Node built-ins or ws, at most ${MAX_BROWSER_GZIP_BYTES / 1024} KB gzipped`, async () => {
    await writeFile(path.join(project, 'browser.js'), BROWSER_ENTRY);
    // The browser platform refuses Node built-ins (node:*, fs, …) outright: the build fails if one is imported.
    const result = await build({
      absWorkingDir: project,
      entryPoints: ['browser.js'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      minify: true,
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((file) => file.includes('node_modules/ws')), 'ws in the browser bundle').to.deep.equal([]);
    expect(inputs.some((file) => file.includes(`node_modules/${NAME}/dist/browser.js`)), 'the browser build was picked').to.equal(true);
    const code = result.outputFiles[0].text;
    expect(code).not.to.contain('import("ws")');
    const gzipped = gzipSync(code).length;
    expect(gzipped, `${code.length} bytes, ${gzipped} gzipped`).to.be.at.most(MAX_BROWSER_GZIP_BYTES);
  });
});
