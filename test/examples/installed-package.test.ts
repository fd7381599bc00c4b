/**
 * The package as another project gets it: `npm pack` (the files npm would install from a git
 * or tarball dependency) unpacked into a fresh project's node_modules, its dependencies beside
 * it as npm hoists them (links to ours: no registry here), and the example program copied into
 * that project. Run in its own Node process (a fresh bundle cache) against the mocks, it must
 * import `aws-realtime-pubsub/components` from node_modules and bundle every Lambda from the
 * handler sources of that installed copy — a marker planted only there shows it did.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '../..');
const MARKER = `installed-copy-${process.pid}`;

interface Report {
  resolved: string;
  resources: number;
  functions: { name: string; files: string[]; marker: boolean; sources: string[] }[];
  outputs: Record<string, unknown>;
}

describe('examples: the components installed in another project’s node_modules', function () {
  // npm pack, unpacking, and a child process that bundles all seven handlers.
  this.timeout(180_000);
  let dir: string;
  let project: string;
  let installed: string;
  let report: Report;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'realtime-installed-'));
    project = path.join(dir, 'shop');
    installed = path.join(project, 'node_modules', 'aws-realtime-pubsub');
    mkdirSync(installed, { recursive: true });

    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO });
    const [{ filename }] = JSON.parse(stdout) as { filename: string }[];
    await run('tar', ['-xzf', path.join(dir, filename), '-C', installed, '--strip-components=1']);
    // Its dependencies, hoisted beside it as npm lays them out.
    for (const entry of readdirSync(path.join(REPO, 'node_modules'))) {
      if (entry.startsWith('.')) continue;
      symlinkSync(path.join(REPO, 'node_modules', entry), path.join(project, 'node_modules', entry));
    }
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'shop', private: true }));
    cpSync(path.join(REPO, 'examples/existing-stack/index.ts'), path.join(project, 'index.ts'));
    // Only the installed copy carries this: a bundle containing it was built from there.
    appendFileSync(path.join(installed, 'functions/handlers/publish.ts'), `\nexport const INSTALLED_COPY = '${MARKER}';\n`);

    writeFileSync(
      path.join(project, 'run-mocked.ts'),
      `
import { functionParts, runProgram } from ${JSON.stringify(path.join(REPO, 'test/infra/harness'))};
(async () => {
  const run = await runProgram({ 'shop:costCenter': 'cc-7' }, { program: ${JSON.stringify(path.join(project, 'index.ts'))}, project: 'shop' });
  const functions = [];
  for (const fn of run.ofType('aws:lambda/function:Function')) {
    const handler = fn.name.replace(/^.*-([a-z]+)-fn$/, '$1');
    const parts = await functionParts(run, handler);
    functions.push({ name: fn.name, files: parts.files, marker: parts.code.includes(${JSON.stringify(MARKER)}), sources: JSON.parse(parts.map).sources });
  }
  const resolved = require.resolve('aws-realtime-pubsub/components');
  process.stdout.write('\\nREPORT ' + JSON.stringify({ resolved, resources: run.resources.length, functions, outputs: run.outputs }) + '\\n');
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
`,
    );
    const child = await run(process.execPath, ['--import', 'tsx', 'run-mocked.ts'], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
    // The report is one line of its own, whatever else the program prints.
    const line = child.stdout.split('\n').find((l) => l.startsWith('REPORT '));
    if (!line) throw new Error(`the program printed no report:\n${child.stdout}\n${child.stderr}`);
    report = JSON.parse(line.slice('REPORT '.length)) as Report;
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('packs the sources the components and the bundles need, and no dependencies', () => {
    for (const file of ['package.json', 'tsconfig.json', 'components/index.ts', 'components/bundle.ts', 'functions/handlers/publish.ts', 'protocol/routes.ts']) {
      expect(readFileSync(path.join(installed, file), 'utf8').length, file).to.be.greaterThan(0);
    }
    expect(readdirSync(installed)).to.not.include('node_modules');
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
    expect(manifest.exports['./components']).to.equal('./components/index.ts');
  });

  it('resolves aws-realtime-pubsub/components from the project’s node_modules', () => {
    expect(report.resolved).to.equal(path.join(installed, 'components/index.ts'));
  });

  it('bundles every function from the installed copy’s handler sources', () => {
    expect(report.functions).to.have.length(8); // 6 route functions (relay included), publish, deliver
    for (const fn of report.functions) {
      expect(fn.files, fn.name).to.deep.equal(['index.js', 'index.js.map']);
      const handler = fn.name.replace(/^.*-([a-z]+)-fn$/, '$1');
      expect(fn.sources, fn.name).to.include(`functions/handlers/${handler}.ts`);
    }
    expect(report.functions.find((f) => f.name.endsWith('-publish-fn'))!.marker, 'the publish bundle carries the installed copy’s marker').to.equal(true);
  });

  it('runs the example program there, with its outputs', () => {
    expect(report.resources).to.be.greaterThan(70);
    expect(report.outputs.websocketUrl).to.match(/^wss:\/\/.+\/live$/);
    expect(report.outputs.dashboardUrl).to.match(/#dashboards\/dashboard\/shop-test-realtime-dashboard$/);
  });
});
