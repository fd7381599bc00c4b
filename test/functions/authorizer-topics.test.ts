import { expect } from 'chai';
import { topicAllowed, topicMatches } from '../../protocol/auth';
import { ClaimError, MAX_PATTERNS, principalFromClaim, topicPatternProblem, topicPatternsFromClaim } from '../../functions/lib/auth/claims';

/** [pattern, topic, principal, expected] */
const MATCHES: ReadonlyArray<readonly [string, string, string | undefined, boolean]> = [
  // one `*` = exactly one non-empty segment
  ['orders/*', 'orders/42', 'alice', true],
  ['orders/*', 'orders/42/items', 'alice', false],
  ['orders/*', 'orders', 'alice', false],
  ['orders/*', 'orders/', 'alice', false],
  ['orders/*', 'Orders/42', 'alice', false],
  ['orders/*', 'ordersX/42', 'alice', false],
  ['orders/42', 'orders/42', undefined, true],
  ['orders/42', 'orders/420', undefined, false],
  ['*', 'orders', undefined, true],
  ['*', 'orders/42', undefined, false],
  ['*', '', undefined, false],
  // several `*`
  ['*/*', 'a/b', undefined, true],
  ['*/*', 'a', undefined, false],
  ['*/*', 'a/b/c', undefined, false],
  ['*/items/*', 'orders/items/3', undefined, true],
  ['*/items/*', 'orders/lines/3', undefined, false],
  ['a/*/c/*', 'a/1/c/2', undefined, true],
  ['a/*/c/*', 'a/1/c', undefined, false],
  ['a/*/c/*', 'a/1/d/2', undefined, false],
  // `*` is a whole segment or nothing: `orders*` is a literal that no topic can equal
  ['orders*', 'orders42', undefined, false],
  ['orders*', 'orders*', undefined, true],
  // {sub} expands to the principal
  ['users/{sub}/inbox', 'users/alice/inbox', 'alice', true],
  ['users/{sub}/inbox', 'users/bob/inbox', 'alice', false],
  ['users/{sub}/inbox', 'users/alice/inbox', undefined, false],
  ['users/{sub}/inbox', 'users/{sub}/inbox', undefined, false],
  ['users/{sub}/*', 'users/alice/drafts', 'alice', true],
  ['users/{sub}/*', 'users/alice', 'alice', false],
  ['{sub}', 'alice', 'alice', true],
  ['{sub}-notes/*', 'alice-notes/1', 'alice', true],
  ['{sub}-notes/*', 'bob-notes/1', 'alice', false],
  // a principal cannot smuggle wildcards or extra segments through {sub}
  ['users/{sub}/inbox', 'users/x/inbox', '*', false],
  ['users/{sub}/inbox', 'users/a/b/inbox', 'a/b', false],
  ['users/{sub}', 'users/anything', '*', false],
  // empty segments are compared literally
  ['orders/*/', 'orders/42/', undefined, true],
  ['/orders', '/orders', undefined, true],
];

describe('topic patterns (protocol/auth.ts)', () => {
  for (const [pattern, topic, principal, expected] of MATCHES) {
    it(`${JSON.stringify(pattern)} ${expected ? 'allows' : 'refuses'} ${JSON.stringify(topic)}${principal === undefined ? '' : ` for ${principal}`}`, () => {
      expect(topicMatches(pattern, topic, principal)).to.equal(expected);
    });
  }

  it('topicAllowed: no patterns (auth off) allows all, an empty list allows nothing, any match allows', () => {
    expect(topicAllowed(undefined, 'anything/at/all')).to.equal(true);
    expect(topicAllowed([], 'orders/42', 'alice')).to.equal(false);
    expect(topicAllowed(['news', 'orders/*'], 'orders/42', 'alice')).to.equal(true);
    expect(topicAllowed(['news', 'users/{sub}/inbox'], 'users/alice/inbox', 'alice')).to.equal(true);
    expect(topicAllowed(['news', 'users/{sub}/inbox'], 'users/bob/inbox', 'alice')).to.equal(false);
  });
});

describe('topics claim and principal parsing', () => {
  it('turns a missing claim into no patterns at all', () => {
    expect(topicPatternsFromClaim(undefined)).to.deep.equal([]);
    expect(topicPatternsFromClaim(null)).to.deep.equal([]);
  });

  it('accepts an array or a space-separated string, dropping duplicates', () => {
    expect(topicPatternsFromClaim(['orders/*', 'users/{sub}/inbox', 'orders/*'])).to.deep.equal(['orders/*', 'users/{sub}/inbox']);
    expect(topicPatternsFromClaim(' orders/*  news ')).to.deep.equal(['orders/*', 'news']);
    expect(topicPatternsFromClaim([])).to.deep.equal([]);
  });

  it('names the bad pattern when the claim is malformed', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ orders: true }, /must be an array/],
      [42, /must be an array/],
      [['ok', 7], /bad pattern 7.*strings/],
      [[''], /not empty/],
      [['$connection'], /never start with \$/],
      [['orders*'], /segment "orders\*"/],
      [['a b'], /bad pattern "a b"/],
      [['users/{user}/inbox'], /segment "\{user\}"/],
      [['ü/*'], /segment "ü"/],
      [['x'.repeat(257)], /at most 256/],
      [Array.from({ length: MAX_PATTERNS + 1 }, (_, i) => `t${i}`), /has 51 patterns; at most 50 are allowed/],
    ];
    for (const [claim, message] of cases) {
      expect(() => topicPatternsFromClaim(claim), JSON.stringify(claim).slice(0, 40)).to.throw(ClaimError, message);
    }
  });

  it('accepts every documented pattern form', () => {
    for (const ok of ['orders/*', '*', '*/*', 'users/{sub}/inbox', '{sub}', '{sub}-notes/*', 'a.b:c_d-e/*', 'orders/']) {
      expect(topicPatternProblem(ok), ok).to.equal(undefined);
    }
  });

  it('requires a non-empty string sub of bounded length', () => {
    expect(principalFromClaim('alice')).to.equal('alice');
    for (const bad of ['', 7, null, undefined, ['alice'], 'x'.repeat(257)]) {
      expect(() => principalFromClaim(bad), String(bad).slice(0, 20)).to.throw(ClaimError);
    }
  });
});
