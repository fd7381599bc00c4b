/** What the history modules need to know: the table, and how long and how much it keeps. */
export interface HistorySettings {
  tableName: string;
  retentionSeconds: number;
  maxMessages: number;
}

/** Epoch seconds at which an item written at `nowMs` may be removed by TTL. */
export const expiresAfter = (nowMs: number, seconds: number) => Math.floor(nowMs / 1000) + seconds;
