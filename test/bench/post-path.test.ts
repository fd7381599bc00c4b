/**
 * Smoke run of bench/post-path.ts at a tiny size, so it cannot rot: every delivery path posts
 * successfully to the server process and is measured, and every signer signs as the SDK's
 * signer does. Never a timing.
 */
import { expect } from 'chai';
import { renderPostPath, runPostPath } from '../../bench/post-path';

describe('bench: CPU per delivery (post-path)', () => {
  it('measures every delivery path and checks every signer against the SDK signer', async () => {
    const results = await runPostPath({ requests: 40, repeats: 2, concurrency: 4, bytes: 200 });
    expect(results.paths.map((p) => p.name)).to.have.length(6);
    expect(results.paths[0].name).to.match(/SDK/);
    for (const p of results.paths) {
      expect(p.cpuUs, p.name).to.have.length(2);
      for (const v of [...p.cpuUs, ...p.perSecond]) expect(Number.isFinite(v) && v > 0, p.name).to.equal(true);
    }
    expect(results.signers.map((s) => [s.name, s.matches])).to.deep.equal(results.signers.map((s) => [s.name, true]));
    const table = renderPostPath(results);
    expect(table).to.include('| AWS SDK v3 client (before) |');
    expect(table.split('\n').filter((l) => l.startsWith('| ')).length).to.equal(1 + 6 + 1 + 3); // two headers, six paths, three signers
  });
});
