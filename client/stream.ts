/**
 * Per-topic continuity (DESIGN.md, "Message continuity"): each topic's position in its stream,
 * so the client hands every message over once and in `seq` order, resumes from where it stands,
 * and says so when it cannot.
 *
 * - A message after a gap waits (buffered) up to `gapWaitMs` for the gap to fill; then the topic
 *   is due for a recovery: the client resubscribes it with `since` (idempotent on the server).
 * - A recovery the server answers `recovered: true` that still leaves seqs missing is asked
 *   again, with growing waits: a seq can be in flight (given out, not yet written) or a hole
 *   (given out, never used). After 1 + RECOVERY_RETRIES answers that bring nothing, the missing seqs
 *   are taken for holes and delivery moves on; one that turns up later is still delivered, once.
 * - `recovered: false` (retention passed the position, or the stream's epoch changed) is a gap
 *   that cannot be filled: the host raises it so the app reloads, and the topic continues from
 *   the server's position.
 * Frames without seq/epoch (an older server) never come here.
 */
import type { DeliveredMessage, SincePosition, StreamPosition } from './frames.js';

/** Why a gap could not be filled: messages no longer retained, the stream was reset, or the position was beyond the stream's head. */
export type GapReason = 'expired' | 'epoch' | 'ahead';

/** A stretch of a topic's stream the app will never receive: reload its state, then carry on from `to`. */
export interface Gap {
  topic: string;
  reason: GapReason;
  /** The position the client resumed from. */
  from: SincePosition;
  /** Where the topic continues: messages after it are delivered. */
  to: StreamPosition;
}

export interface StreamHost {
  /** Hand one message to the app (in order, once). */
  deliver(message: DeliveredMessage): void;
  /** A topic's position advanced. */
  position(topic: string, position: StreamPosition): void;
  gap(gap: Gap): void;
  /** A topic is due for a recovery request (see isDue). */
  recoveryDue(): void;
}

/** Asks after the first recovery that brings nothing, before the missing seqs are taken for holes. */
export const RECOVERY_RETRIES = 3;
/** Holes remembered so a late arrival is delivered once (and a repeat of it is not). */
const MAX_SKIPPED = 1000;

type Phase = 'idle' | 'waiting' | 'due' | 'sent';

interface TopicState {
  topic: string;
  /** Last delivered (or given-up) seq; undefined until the server or the app names a position. */
  seq?: number;
  epoch?: string;
  /** The server confirmed `epoch` and `seq`: messages are ordered against them. */
  anchored: boolean;
  /** The server gave no position (an older one): the first message anchors the stream. */
  floating: boolean;
  /** Messages that cannot be placed yet: before anchoring, or from another epoch. */
  held: DeliveredMessage[];
  /** Messages after a gap (same epoch, seq > seq + 1). */
  buffer: Map<number, DeliveredMessage>;
  skipped: Set<number>;
  /** The highest seq the server said exists in this epoch. */
  head: number;
  phase: Phase;
  /** Recoveries in a row that brought nothing. */
  attempts: number;
  timer?: ReturnType<typeof setTimeout>;
}

export class TopicStreams {
  private readonly states = new Map<string, TopicState>();

  constructor(
    private readonly gapWaitMs: number,
    private readonly host: StreamHost,
  ) {}

  /** Starts following `topic`, from `since` when given (a stored position). No-op if followed. */
  track(topic: string, since?: SincePosition): void {
    if (this.states.has(topic)) return;
    this.states.set(topic, {
      topic,
      seq: since?.seq,
      epoch: since?.epoch,
      anchored: false,
      floating: false,
      held: [],
      buffer: new Map(),
      skipped: new Set(),
      head: 0,
      phase: 'idle',
      attempts: 0,
    });
  }

  untrack(topic: string): void {
    const s = this.states.get(topic);
    if (s) clearTimeout(s.timer);
    this.states.delete(topic);
  }

  /** The `since` to send when subscribing `topic`: where it stands, if anywhere yet. */
  since(topic: string): SincePosition | undefined {
    const s = this.states.get(topic);
    if (s?.seq === undefined) return undefined;
    return s.epoch === undefined ? { seq: s.seq } : { epoch: s.epoch, seq: s.seq };
  }

  /** The confirmed position of every followed topic that has one. */
  positions(): Record<string, StreamPosition> {
    const out: Record<string, StreamPosition> = {};
    for (const s of this.states.values()) if (s.anchored) out[s.topic] = { epoch: s.epoch!, seq: s.seq! };
    return out;
  }

  isDue(topic: string): boolean {
    return this.states.get(topic)?.phase === 'due';
  }

  /** A recovery request for `topic` went out. */
  markSent(topic: string): void {
    const s = this.states.get(topic);
    if (!s) return;
    clearTimeout(s.timer);
    s.phase = 'sent';
  }

  /** Stops every timer (the client closed); the resubscribe on connect() re-evaluates each topic. */
  pause(): void {
    for (const s of this.states.values()) {
      clearTimeout(s.timer);
      s.phase = 'idle';
      s.attempts = 0;
    }
  }

  /** A delivered frame with `seq` and `epoch`, for a followed topic. */
  onMessage(message: DeliveredMessage & { seq: number; epoch: string }): void {
    const s = this.states.get(message.topic);
    if (!s) return;
    if (!s.anchored) {
      if (!s.floating) return void s.held.push(message);
      this.anchor(s, { epoch: message.epoch, seq: message.seq - 1 });
    }
    this.place(s, message);
    this.settle(s);
  }

  /**
   * The subscribed reply for `topic`, to a request that carried `sent` as its `since` (or none).
   * Every message the server replayed for it arrived before this reply.
   */
  onSubscribed(topic: string, sent: SincePosition | undefined, position: StreamPosition | undefined, recovered: boolean | undefined): void {
    const s = this.states.get(topic);
    if (!s) return;
    if (!position) {
      // An older server: no positions. Order from the first message on.
      if (!s.anchored) {
        if (!s.floating) {
          s.floating = true;
          this.replayHeld(s);
        }
        return;
      }
      // Anchored, yet no position for it: take it as "nothing new", so a gap still ends.
      position = { epoch: s.epoch!, seq: s.head };
      recovered = undefined;
    }
    if (!sent) {
      if (!s.anchored) {
        this.anchor(s, position);
        this.replayHeld(s);
      } else if (position.epoch !== s.epoch) {
        this.dueNow(s); // the stream changed under us: a resume tells how
      } else {
        s.head = Math.max(s.head, position.seq);
      }
      return this.settle(s);
    }
    const sentEpoch = sent.epoch ?? (s.anchored ? s.epoch : undefined);
    const epochChanged = sentEpoch !== undefined && sentEpoch !== position.epoch;
    if (recovered === false || epochChanged) {
      // An answer about a position the client has since moved past (e.g. a rotation's resubscribe
      // while the old socket kept delivering) says nothing about where it stands now: ask again.
      if (!epochChanged && s.anchored && s.seq! > sent.seq) return this.dueNow(s, true);
      const reason: GapReason = epochChanged ? 'epoch' : sent.seq > position.seq ? 'ahead' : 'expired';
      return this.lost(s, { topic, reason, from: { ...sent }, to: { ...position } });
    }
    if (!s.anchored) {
      this.anchor(s, { epoch: position.epoch, seq: s.seq ?? sent.seq });
      this.replayHeld(s);
      if (!this.followed(s)) return;
    }
    // Held messages of another epoch were stragglers of a stream the server no longer serves.
    s.held = [];
    s.head = Math.max(s.head, position.seq);
    clearTimeout(s.timer);
    s.timer = undefined;
    // Only answers that bring nothing count: a replay cut short by the server's deadline progresses.
    s.attempts = s.seq! > sent.seq ? 0 : s.attempts + 1;
    if (!this.missing(s)) {
      s.phase = 'idle';
      s.attempts = 0;
      return;
    }
    if (s.attempts > RECOVERY_RETRIES) {
      s.phase = 'idle';
      s.attempts = 0;
      this.skipHoles(s);
      return this.settle(s);
    }
    // In-flight messages usually land within milliseconds: ask again soon, then less often.
    this.wait(s, (this.gapWaitMs / 10) * 3 ** Math.max(0, s.attempts - 1));
  }

  // ---- internals ----

  private followed(s: TopicState): boolean {
    return this.states.get(s.topic) === s;
  }

  private anchor(s: TopicState, at: StreamPosition): void {
    s.anchored = true;
    s.epoch = at.epoch;
    s.seq = at.seq;
    s.head = Math.max(at.seq, 0);
    this.host.position(s.topic, { epoch: at.epoch, seq: at.seq });
  }

  /** Places the held messages now that the stream is anchored (those of its epoch) or floating (all). */
  private replayHeld(s: TopicState): void {
    const held = s.held.filter((m) => !s.anchored || m.epoch === s.epoch).sort((a, b) => a.seq! - b.seq!);
    s.held = [];
    for (const m of held) {
      if (!this.followed(s)) return;
      this.onMessage(m as DeliveredMessage & { seq: number; epoch: string });
    }
  }

  /** Delivers, buffers or drops one message of an anchored stream. */
  private place(s: TopicState, m: DeliveredMessage & { seq: number; epoch: string }): void {
    if (m.epoch !== s.epoch) {
      s.held.push(m);
      return this.dueNow(s);
    }
    if (m.seq <= s.seq!) {
      // A duplicate, or a seq given up as a hole that turned up after all: delivered late, once.
      if (s.skipped.delete(m.seq)) this.host.deliver(m);
      return;
    }
    if (m.seq > s.seq! + 1) {
      if (!s.buffer.has(m.seq)) s.buffer.set(m.seq, m);
      return;
    }
    // The position moves first: positions() read in a handler includes the message it is given.
    s.seq = m.seq;
    s.head = Math.max(s.head, m.seq);
    this.host.deliver(m);
    this.drain(s);
    if (this.followed(s)) this.host.position(s.topic, { epoch: s.epoch!, seq: s.seq });
  }

  /** Delivers the buffered messages that now follow on. */
  private drain(s: TopicState): void {
    for (let next = s.buffer.get(s.seq! + 1); next && this.followed(s); next = s.buffer.get(s.seq! + 1)) {
      s.buffer.delete(next.seq!);
      s.seq = next.seq!;
      this.host.deliver(next);
    }
  }

  /** Seqs the client knows exist (the server's head, or a buffered message) but has not had, or messages of another epoch to settle. */
  private missing(s: TopicState): boolean {
    return s.anchored && (s.buffer.size > 0 || s.head > s.seq! || s.held.length > 0);
  }

  /** After a change: start waiting for a gap to fill, or stop waiting once it has. */
  private settle(s: TopicState): void {
    if (!this.followed(s) || !s.anchored) return;
    if (!this.missing(s)) {
      // A due recovery still goes out: the stream may have changed (a reply showed another epoch).
      if (s.phase === 'waiting') {
        clearTimeout(s.timer);
        s.phase = 'idle';
      }
      if (s.phase === 'idle') s.attempts = 0;
      return;
    }
    if (s.phase === 'idle') this.wait(s, this.gapWaitMs);
  }

  private wait(s: TopicState, ms: number): void {
    clearTimeout(s.timer);
    s.phase = 'waiting';
    s.timer = setTimeout(() => {
      s.timer = undefined;
      if (s.phase !== 'waiting' || !this.followed(s)) return;
      s.phase = 'due';
      this.host.recoveryDue();
    }, ms);
  }

  private dueNow(s: TopicState, evenIfSent = false): void {
    if (s.phase === 'due' || (s.phase === 'sent' && !evenIfSent)) return;
    clearTimeout(s.timer);
    s.phase = 'due';
    this.host.recoveryDue();
  }

  /** Gives up the missing seqs up to what is known to exist, delivering what is buffered in order. */
  private skipHoles(s: TopicState): void {
    const buffered = [...s.buffer.keys()].sort((a, b) => a - b);
    const last = Math.max(s.head, buffered[buffered.length - 1] ?? 0);
    for (const seq of buffered) {
      this.remember(s, s.seq! + 1, seq - 1);
      const m = s.buffer.get(seq)!;
      s.buffer.delete(seq);
      s.seq = seq;
      this.host.deliver(m);
      if (!this.followed(s)) return;
    }
    this.remember(s, s.seq! + 1, last);
    s.seq = Math.max(s.seq!, last);
    this.host.position(s.topic, { epoch: s.epoch!, seq: s.seq });
  }

  private remember(s: TopicState, from: number, to: number): void {
    for (let seq = Math.max(from, to - MAX_SKIPPED + 1); seq <= to; seq++) s.skipped.add(seq);
    for (const seq of s.skipped) {
      if (s.skipped.size <= MAX_SKIPPED) break;
      s.skipped.delete(seq);
    }
  }

  /** The server cannot fill the gap: tell the app, then continue from the server's position. */
  private lost(s: TopicState, gap: Gap): void {
    clearTimeout(s.timer);
    s.timer = undefined;
    s.phase = 'idle';
    s.attempts = 0;
    s.skipped.clear();
    const buffered = [...s.buffer.values(), ...s.held];
    s.buffer.clear();
    s.held = [];
    s.anchored = false;
    this.host.gap(gap);
    if (!this.followed(s)) return;
    this.anchor(s, gap.to);
    // Messages after the new position (live ones that came with or after the reply) still count.
    s.held = buffered.filter((m) => m.epoch === gap.to.epoch && m.seq! > gap.to.seq);
    this.replayHeld(s);
    this.settle(s);
  }
}
