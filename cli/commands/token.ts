/** `realtime token`: a development JWT for the local mode's (or a stack's HS256) authorizer. */
import { mintToken } from '../../local/auth-token';
import { CliError, describeError } from '../errors';

export const SECRET_ENV = 'REALTIME_AUTH_SECRET';

export interface TokenOptions {
  sub: string;
  topics: string[];
  secret?: string;
  expires?: string;
  issuer?: string;
  audience?: string;
  /** Patterns of the `publish` claim (several arguments or comma-separated). */
  publish?: string[];
  /** The `presence` claim, as JSON text. */
  presence?: string;
}

export async function token(options: TokenOptions): Promise<string> {
  const secret = options.secret ?? process.env[SECRET_ENV];
  if (!secret) throw new CliError(`no secret: pass --secret (the local mode's --auth-secret) or set ${SECRET_ENV}`, 2);
  // Patterns may come as several arguments or comma-separated (topic names never contain commas).
  const patterns = (list: string[]) => list.flatMap((t) => t.split(',')).map((t) => t.trim()).filter((t) => t !== '');
  const topics = patterns(options.topics);
  const publish = options.publish ? patterns(options.publish) : undefined;
  let presence: unknown;
  if (options.presence !== undefined) {
    try {
      presence = JSON.parse(options.presence);
    } catch {
      throw new CliError(`--presence must be JSON, e.g. '{"name":"Ada"}'`, 2);
    }
  }
  const expiresIn = options.expires !== undefined && /^\d+$/.test(options.expires) ? Number(options.expires) : options.expires;
  try {
    return await mintToken({ secret, sub: options.sub, topics, publish, presence, expiresIn, issuer: options.issuer, audience: options.audience });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message.replace(/^mintToken: /, '') : describeError(err));
  }
}
