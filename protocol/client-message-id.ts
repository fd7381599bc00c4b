/**
 * The id of a client-published message, as delivered and as the `published` reply names it:
 * `c.<16 characters of base64url(SHA-256(principal))>.<the client's id>`. The relay builds it
 * (functions/lib/relay/message-id.ts); the client SDK reads its own id back out of it to match
 * the reply to its publish. Zod-free, so the client can import it.
 */
/** A client publish's own id: it makes a retried publish idempotent (namespaced per principal by the relay). */
export const CLIENT_MESSAGE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export const CLIENT_ID_PREFIX = 'c.';
/** Characters of the principal's hash in the id (base64url: no `.`). */
export const CLIENT_ID_SPACE_LENGTH = 16;

/** The client's own id inside a client message id, or undefined when `messageId` is not one. */
export function ownIdOf(messageId: string): string | undefined {
  const at = CLIENT_ID_PREFIX.length + CLIENT_ID_SPACE_LENGTH;
  if (!messageId.startsWith(CLIENT_ID_PREFIX) || messageId[at] !== '.' || messageId.length <= at + 1) return undefined;
  return messageId.slice(at + 1);
}
