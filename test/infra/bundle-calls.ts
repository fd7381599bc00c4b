/**
 * What the repository's own code constructs, read from a shipped (minified) bundle and its
 * source map: every `new X(` whose code came from functions/ or protocol/ and survived
 * tree-shaking. Minification renames `PutCommand` to something like `Qe`, but esbuild's source map
 * keeps the original name of each renamed identifier (the map's `names`), with the source file it
 * came from. The SDK's own code (which links in commands it never sends, e.g. paginators'
 * QueryCommand) does not count; neither does a helper's code the handler never uses.
 */
import { decode } from '@jridgewell/sourcemap-codec';

/** Files whose code is ours, as the map's `sources` name them (relative to the bundle). */
const OUR_SOURCES = /^(functions|protocol)\//;

export function constructedByOurCode(code: string, mapJson: string): Set<string> {
  const map = JSON.parse(mapJson) as { sources: string[]; names: string[]; mappings: string };
  const lines = code.split('\n');
  const names = new Set<string>();
  decode(map.mappings).forEach((segments, line) => {
    for (const segment of segments) {
      if (segment.length !== 5 || !OUR_SOURCES.test(map.sources[segment[1]])) continue;
      const column = segment[0];
      if (lines[line]?.slice(Math.max(0, column - 4), column) === 'new ') names.add(map.names[segment[4]]);
    }
  });
  return names;
}
