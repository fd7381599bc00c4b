/**
 * Builds the browser bundle of the client (ES module, minified) that the local mode's demo page
 * loads. The demo server only serves files, so the bundle is generated and committed; a test
 * fails when it is stale. Regenerate with: npx tsx client/bundle.ts
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = path.resolve(__dirname, '..');
export const DEMO_BUNDLE_PATH = path.join(ROOT, 'local', 'demo', 'realtime-client.js');
const BANNER = '// Generated from client/ by `npx tsx client/bundle.ts`. Do not edit.';

export async function buildBrowserBundle(): Promise<string> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['client/index.ts'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    // Browsers have WebSocket; the lazy `ws` import never runs there, so it stays out.
    external: ['ws'],
    banner: { js: BANNER },
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

if (require.main === module) {
  void buildBrowserBundle().then(async (code) => {
    await writeFile(DEMO_BUNDLE_PATH, code);
    const bytes = Buffer.byteLength(code);
    console.log(`${path.relative(ROOT, DEMO_BUNDLE_PATH)}: ${bytes} bytes, ${gzipSync(code).length} gzipped`);
  });
}
