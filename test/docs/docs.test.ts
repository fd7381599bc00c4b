/**
 * The documentation holds together: README.md stays a front page, every relative link and
 * anchor of README.md and docs/*.md points somewhere, and the configuration page lists every
 * stack setting of Pulumi.yaml with its default. Reads files only: fast, no network.
 */
import { expect } from 'chai';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { anchorsOf, linksOf, proseLines, read, slug } from './markdown';

const ROOT = path.resolve(__dirname, '..', '..');
const README = path.join(ROOT, 'README.md');
const DOCS = path.join(ROOT, 'docs');
const pages = () => [README, ...readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => path.join(DOCS, f))];
const rel = (file: string) => path.relative(ROOT, file);

describe('docs', () => {
  describe('markdown helpers', () => {
    it('slugs headings as GitHub does', () => {
      expect(slug('Local mode (`npm start`)')).to.equal('local-mode-npm-start');
      expect(slug('Refused handshakes (401 / 403)')).to.equal('refused-handshakes-401--403');
      expect(slug('`realtime listen <topic…>`')).to.equal('realtime-listen-topic');
      expect(slug('The `topics` claim')).to.equal('the-topics-claim');
      expect(slug('Deviations from [DESIGN.md](x.md)')).to.equal('deviations-from-designmd');
      expect(slug('MAX_TOPIC_LENGTH & co.')).to.equal('max_topic_length--co');
    });

    it('numbers repeated headings and ignores headings and links inside code', () => {
      const page = '# A\n## Tests\n## Tests\n```sh\n# not a heading [x](nowhere.md)\n```\nsee [b](b.md) and `[c](c.md)`\n';
      expect([...anchorsOf(page)]).to.deep.equal(['a', 'tests', 'tests-1']);
      expect(linksOf(page).map((l) => l.target)).to.deep.equal(['b.md']);
    });
  });

  it('README.md is a front page: at most 250 lines', () => {
    const lines = read(README).replace(/\n$/, '').split('\n').length;
    expect(lines, 'README.md lines').to.be.at.most(250);
  });

  it('every relative link and #anchor in README.md and docs/*.md resolves', () => {
    const broken: string[] = [];
    for (const page of pages()) {
      for (const { line, target } of linksOf(read(page))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …: not ours to check offline
        const [file, anchor] = target.split('#', 2) as [string, string | undefined];
        const resolved = file === '' ? page : path.resolve(path.dirname(page), decodeURIComponent(file));
        const where = `${rel(page)}:${line} → ${target}`;
        if (!resolved.startsWith(ROOT + path.sep) && resolved !== ROOT) {
          broken.push(`${where}: outside the repository`);
          continue;
        }
        if (!existsSync(resolved)) {
          broken.push(`${where}: no such file`);
          continue;
        }
        if (anchor === undefined) continue;
        if (!statSync(resolved).isFile() || !resolved.endsWith('.md')) {
          broken.push(`${where}: an anchor into something that is not a Markdown page`);
          continue;
        }
        if (!anchorsOf(read(resolved)).has(decodeURIComponent(anchor))) broken.push(`${where}: no heading with that anchor in ${rel(resolved)}`);
      }
    }
    expect(broken, broken.join('\n')).to.deep.equal([]);
  });

  describe('docs/deploy.md configuration table', () => {
    const settings = (parse(read(path.join(ROOT, 'Pulumi.yaml'))) as { name: string; config: Record<string, { default: unknown }> });
    /** Rows of the table under the "Configuration" heading: key (without `realtime:`) → default cell. */
    const table = () => {
      const rows = new Map<string, string>();
      let inSection = false;
      for (const { text } of proseLines(read(path.join(DOCS, 'deploy.md')))) {
        const heading = /^(#{1,6})\s+(.*)$/.exec(text);
        if (heading) inSection = slug(heading[2]) === 'configuration';
        if (!inSection || !text.startsWith('|')) continue;
        const cells = text.split('|').slice(1, -1).map((c) => c.trim());
        const key = /^`(?:realtime:)?([A-Za-z]+)`$/.exec(cells[0])?.[1];
        if (key) rows.set(key, cells[2]);
      }
      return rows;
    };
    /** A default as the table writes it: in backticks, strings bare (`""` for empty), the rest as YAML/JSON. */
    const shown = (value: unknown) => `\`${typeof value === 'string' ? (value === '' ? '""' : value) : JSON.stringify(value)}\``;

    it('lists every realtime:* setting of Pulumi.yaml, and no other', () => {
      expect(settings.name).to.equal('realtime');
      const keys = Object.keys(settings.config).sort();
      expect([...table().keys()].sort()).to.deep.equal(keys);
    });

    it('gives each setting the default Pulumi.yaml declares', () => {
      const rows = table();
      const wrong = Object.entries(settings.config)
        .filter(([key, { default: value }]) => rows.get(key) !== shown(value))
        .map(([key, { default: value }]) => `realtime:${key}: table says ${rows.get(key)}, Pulumi.yaml ${shown(value)}`);
      expect(wrong, wrong.join('\n')).to.deep.equal([]);
    });
  });
});
