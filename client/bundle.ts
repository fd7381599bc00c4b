/**
 * Builds the browser bundle of the client (ES module, minified) that the local mode's demo page
 * loads. The demo server only serves files, so the bundle is generated and committed; a test
 * fails when it is stale. Regenerate with: npx tsx client/bundle.ts
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { clientBuildOptions, ROOT } from './build.js';

export const DEMO_BUNDLE_PATH = path.join(ROOT, 'local', 'demo', 'realtime-client.js');
const BANNER = '// Generated from client/ by `npx tsx client/bundle.ts`. Do not edit.';

export async function buildBrowserBundle(): Promise<string> {
  const result = await build({ ...clientBuildOptions('browser'), minify: true, banner: { js: BANNER }, write: false });
  return result.outputFiles[0].text;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void buildBrowserBundle().then(async (code) => {
    await writeFile(DEMO_BUNDLE_PATH, code);
    const bytes = Buffer.byteLength(code);
    console.log(`${path.relative(ROOT, DEMO_BUNDLE_PATH)}: ${bytes} bytes, ${gzipSync(code).length} gzipped`);
  });
}
