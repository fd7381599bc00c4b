/**
 * Cuts a bundle's source map down to the code of the sources we keep (our own functions/ and
 * protocol/), so a Lambda pays almost nothing for source maps: with the whole map (the SDK's
 * mappings are ~95 % of it) Node spent ~25 ms CPU reading it at every cold start and ~180 ms
 * decoding it on the first stack trace it formatted (bench/bundles.ts; Node 20, busy 2-core
 * machine). Frames in dropped code keep their function names (the bundles keep names) and show
 * their position in index.js.
 * A dropped segment is replaced by an unmapped one (generated column only), so the code it
 * covered maps to nothing rather than to the kept segment before it.
 */
import { decode, encode, type SourceMapSegment } from '@jridgewell/sourcemap-codec';

interface SourceMapV3 {
  version: 3;
  file?: string;
  sources: string[];
  names: string[];
  mappings: string;
}

export function keepSources(mapJson: string, keep: (source: string) => boolean): string {
  const map = JSON.parse(mapJson) as SourceMapV3;
  const sources: string[] = [];
  const names: string[] = [];
  const sourceIndex = new Map<number, number>();
  const nameIndex = new Map<number, number>();
  const indexIn = (list: string[], index: Map<number, number>, old: number, value: string) => {
    let i = index.get(old);
    if (i === undefined) index.set(old, (i = list.push(value) - 1));
    return i;
  };

  const lines = decode(map.mappings).map((segments) => {
    const kept: SourceMapSegment[] = [];
    // Node looks up a position in the nearest segment before it, even one on an earlier line:
    // a line that starts with dropped code starts with an unmapped segment at column 0.
    let unmapped = false;
    for (const segment of segments) {
      if (segment.length === 1 || !keep(map.sources[segment[1]])) {
        if (!unmapped) kept.push([kept.length === 0 ? 0 : segment[0]]);
        unmapped = true;
        continue;
      }
      const [column, source, line, sourceColumn] = segment;
      const newSource = indexIn(sources, sourceIndex, source, map.sources[source]);
      kept.push(
        segment.length === 5
          ? [column, newSource, line, sourceColumn, indexIn(names, nameIndex, segment[4], map.names[segment[4]])]
          : [column, newSource, line, sourceColumn],
      );
      unmapped = false;
    }
    return kept;
  });
  return JSON.stringify({ version: 3, ...(map.file ? { file: map.file } : {}), sources, names, mappings: encode(lines) });
}
