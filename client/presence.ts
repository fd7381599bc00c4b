/**
 * A presence topic as the app sees it (`client.presence(topic)`): who is there, kept up to date
 * from the subscribed reply's list (on every (re)subscribe) and the join/leave events. Above the
 * server's list cap the reply gives only a count: `listed` is false and `members` holds only the
 * joins seen since.
 */
import { TypedEmitter } from './emitter.js';
import type { PresenceEvent, PresenceMember, PresenceState } from './frames.js';

export interface PresenceRoomEvents {
  /** A member arrived (its first connection subscribed), or a fresh list shows it. */
  join: (member: PresenceMember) => void;
  /** A member went (its last connection left), or a fresh list no longer shows it. */
  leave: (member: PresenceMember) => void;
  /** After any change: read `members` and `count`. */
  change: () => void;
}

export class PresenceRoom extends TypedEmitter<PresenceRoomEvents> {
  /** The members, by principal. */
  readonly members = new Map<string, PresenceMember>();
  /** How many members the server counts (may exceed `members.size` above the list cap). */
  count = 0;
  /** false when the room is above the server's list cap: only `count` is exact. */
  listed = true;

  constructor(
    readonly topic: string,
    private readonly leaveRoom: () => Promise<void>,
    private readonly report: (thrown: unknown[]) => void,
  ) {
    super();
  }

  /** Stops following the room (unsubscribes unless other handlers hold the topic). */
  close(): Promise<void> {
    return this.leaveRoom();
  }

  /** @internal Start from another room's state (a topic already held), silently: nothing has changed for the app. */
  seed(from: PresenceRoom): void {
    for (const [id, member] of from.members) this.members.set(id, member);
    this.count = from.count;
    this.listed = from.listed;
  }

  /** @internal A list from a subscribed reply: replaces what was known, telling the differences. */
  snapshot(state: PresenceState): void {
    this.count = state.count;
    this.listed = state.members !== undefined;
    const fresh = new Map((state.members ?? []).map((m) => [m.id, m]));
    for (const [id, member] of [...this.members]) if (!fresh.has(id)) this.change('leave', member);
    for (const member of fresh.values()) if (!this.members.has(member.id)) this.change('join', member);
    this.report(this.emit('change'));
  }

  /** @internal A join or leave event. */
  apply(event: PresenceEvent): void {
    this.count = event.count;
    this.change(event.event, event.member);
    this.report(this.emit('change'));
  }

  private change(kind: 'join' | 'leave', member: PresenceMember): void {
    if (kind === 'join') this.members.set(member.id, member);
    else if (!this.members.delete(member.id)) return;
    this.report(this.emit(kind, member));
  }
}
