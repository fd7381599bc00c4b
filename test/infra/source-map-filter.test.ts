/**
 * keepSources (components/source-map-filter.ts): the map a Lambda ships covers our sources only,
 * and code it drops resolves to nothing in Node's own source map lookup, never to a neighbour.
 */
import { expect } from 'chai';
import { SourceMap } from 'node:module';
import { encode, type SourceMapSegment } from '@jridgewell/sourcemap-codec';
import { keepSources } from '../../components/source-map-filter';

const ours = (source: string) => source.startsWith('functions/');

/** Node's lookup, as --enable-source-maps does it: the original file of a generated position, or '-'. */
function sourceAt(mapJson: string, line: number, column: number): string {
  const entry = new SourceMap(JSON.parse(mapJson)).findEntry(line, column);
  return 'originalSource' in entry && entry.originalSource ? entry.originalSource : '-';
}

describe('infra: source map filter', () => {
  // Two generated lines, as in a minified bundle: SDK code and ours interleaved.
  const lines: SourceMapSegment[][] = [
    [
      [0, 0, 10, 0, 0], // node_modules/sdk/a.js
      [10, 1, 20, 2, 1], // functions/b.ts, name "makeHandler"
      [20, 2, 30, 4, 2], // node_modules/sdk/c.js
      [30, 1, 21, 0], // functions/b.ts again
    ],
    [
      [3, 0, 5, 0], // line starts (after col 3) with SDK code
      [9, 1, 40, 0, 3], // functions/b.ts, name "PutCommand"
    ],
  ];
  const full = JSON.stringify({
    version: 3,
    sources: ['node_modules/sdk/a.js', 'functions/b.ts', 'node_modules/sdk/c.js'],
    names: ['inner', 'makeHandler', 'other', 'PutCommand'],
    mappings: encode(lines),
  });
  const kept = keepSources(full, ours);

  it('keeps only our sources, and only the names our segments use', () => {
    const map = JSON.parse(kept) as { version: number; sources: string[]; names: string[] };
    expect(map.version).to.equal(3);
    expect(map.sources).to.deep.equal(['functions/b.ts']);
    expect(map.names).to.deep.equal(['makeHandler', 'PutCommand']);
  });

  it('maps our code exactly as before, with its names', () => {
    for (const [line, column] of [
      [0, 12],
      [0, 31],
      [1, 10],
    ]) {
      expect(new SourceMap(JSON.parse(kept)).findEntry(line, column), `${line}:${column}`).to.deep.equal(new SourceMap(JSON.parse(full)).findEntry(line, column));
    }
    expect(new SourceMap(JSON.parse(kept)).findEntry(1, 10)).to.include({ originalSource: 'functions/b.ts', originalLine: 40, name: 'PutCommand' });
  });

  it('leaves dropped code unmapped instead of attributing it to the nearest kept segment, across lines too', () => {
    expect(sourceAt(full, 0, 25)).to.equal('node_modules/sdk/c.js');
    expect(sourceAt(kept, 0, 25)).to.equal('-'); // after our segment on the same line
    expect(sourceAt(kept, 0, 2)).to.equal('-'); // at the start of the map
    expect(sourceAt(kept, 1, 0)).to.equal('-'); // start of a line whose first code was dropped
    expect(sourceAt(kept, 1, 5)).to.equal('-');
    expect(sourceAt(kept, 1, 9)).to.equal('functions/b.ts');
  });
});
