/**
 * What the repository's own code constructs, read from a shipped (minified) bundle and its
 * source map: every `new X(` whose code came from functions/ or protocol/ and survived
 * tree-shaking. Minification renames `PutCommand` to something like `Qe`, but esbuild's source map
 * keeps the original name of each renamed identifier (the map's `names`), with the source file it
 * came from. The SDK's own code (which links in commands it never sends, e.g. paginators'
 * QueryCommand) does not count; neither does a helper's code the handler never uses.
 */
import { SourceMapConsumer } from 'source-map';

/** Files whose code is ours, as the map's `sources` name them (relative to the bundle). */
const OUR_SOURCES = /^(functions|protocol)\//;

export function constructedByOurCode(code: string, map: string): Set<string> {
  const lines = code.split('\n');
  const names = new Set<string>();
  new SourceMapConsumer(JSON.parse(map)).eachMapping((m) => {
    if (!m.name || !OUR_SOURCES.test(m.source)) return;
    const before = lines[m.generatedLine - 1]?.slice(Math.max(0, m.generatedColumn - 4), m.generatedColumn);
    if (before === 'new ') names.add(m.name);
  });
  return names;
}
