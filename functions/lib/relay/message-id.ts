/**
 * The id of a client-published message. A client's own `id` makes a retried publish idempotent
 * (the publish function keeps its seq, subscribers drop the repeat), but a client must never be
 * able to collide with a backend's ids or another principal's: ids are namespaced per principal,
 * `c.<16 characters of the principal's SHA-256>.<id>` (at most 83 characters, within the
 * envelope's 128; the format is protocol/client-message-id.ts). Without an `id`, a random one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { CLIENT_ID_PREFIX, CLIENT_ID_SPACE_LENGTH } from '../../../protocol/client-message-id';

export function clientMessageId(principal: string, id: string = randomUUID()): string {
  const space = createHash('sha256').update(principal).digest('base64url').slice(0, CLIENT_ID_SPACE_LENGTH);
  return `${CLIENT_ID_PREFIX}${space}.${id}`;
}
