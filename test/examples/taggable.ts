/**
 * Whether an AWS resource type takes `tags`, read from the provider's own declarations
 * (@pulumi/aws: `<module>/<file>.d.ts`, interface `<Class>Args`), so the example's tag list can be
 * checked against every taggable resource the components create, now and after they change.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const AWS_ROOT = path.dirname(require.resolve('@pulumi/aws/package.json'));
const cache = new Map<string, boolean>();

export function isTaggable(type: string): boolean {
  const cached = cache.get(type);
  if (cached !== undefined) return cached;
  const match = /^aws:([A-Za-z0-9]+)\/([A-Za-z0-9]+):([A-Za-z0-9]+)$/.exec(type);
  if (!match) return false;
  const [, module, file, cls] = match;
  const declarations = path.join(AWS_ROOT, module === 'index' ? '' : module, `${file}.d.ts`);
  if (!existsSync(declarations)) throw new Error(`no declarations for ${type} at ${declarations}`);
  const text = readFileSync(declarations, 'utf8');
  const start = text.indexOf(`export interface ${cls}Args {`);
  if (start < 0) throw new Error(`${declarations} declares no ${cls}Args`);
  const body = text.slice(start, text.indexOf('\n}', start));
  const taggable = /\n\s+tags\?:/.test(body);
  cache.set(type, taggable);
  return taggable;
}
