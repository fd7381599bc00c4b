/**
 * `GET /health` of the local mode (on the demo port): whether the system is ready, for a script,
 * a container's health check or a test harness waiting on `npm start`.
 *
 *   200 {"status":"ok", endpoints, queues, connections}   every endpoint answered just now
 *   503 {"status":"starting"}                             not every endpoint is up yet
 *   503 {"status":"stopping"}                             Ctrl-C / SIGTERM / stop() began
 *   503 {"status":"degraded", endpoints, …}               an endpoint did not answer
 *
 * Each endpoint is asked over HTTP (any answer is an answer: the gateway's management path
 * answers 403 to a GET, dynalite 400): a server that still listens but no longer answers shows.
 */
import type { Queue } from './sqs';

/** How long an endpoint may take to answer before it counts as down. */
export const PROBE_TIMEOUT_MS = 2000;

export interface EndpointHealth {
  url: string;
  up: boolean;
  /** Why it is down. */
  error?: string;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export type HealthReport =
  | { status: 'starting' | 'stopping' }
  | { status: 'ok' | 'degraded'; endpoints: Record<string, EndpointHealth>; queues: Record<string, QueueDepth>; connections: number };

export interface HealthSources {
  /** 'ready' once every endpoint listens; 'stopping' from the moment stop() is called. */
  state(): 'starting' | 'ready' | 'stopping';
  /** The endpoints to ask, by name: an http(s) URL (a ws:// URL is asked as http://). */
  endpoints(): Record<string, string>;
  queues(): Record<string, Queue>;
  connections(): number;
}

/** The HTTP status a report is served with. */
export function healthStatus(report: HealthReport): 200 | 503 {
  return report.status === 'ok' ? 200 : 503;
}

export function healthCheck(sources: HealthSources, probe: (url: string) => Promise<void> = askEndpoint): () => Promise<HealthReport> {
  return async () => {
    const state = sources.state();
    if (state !== 'ready') return { status: state };
    const entries = await Promise.all(
      Object.entries(sources.endpoints()).map(async ([name, url]): Promise<[string, EndpointHealth]> => {
        try {
          await probe(url);
          return [name, { url, up: true }];
        } catch (err) {
          return [name, { url, up: false, error: (err as Error)?.message ?? String(err) }];
        }
      }),
    );
    // Stopping may have begun while the endpoints were asked.
    if (sources.state() === 'stopping') return { status: 'stopping' };
    const endpoints = Object.fromEntries(entries);
    const queues = Object.fromEntries(Object.entries(sources.queues()).map(([name, queue]) => [name, queue.counts()]));
    const up = entries.every(([, e]) => e.up);
    return { status: up ? 'ok' : 'degraded', endpoints, queues, connections: sources.connections() };
  };
}

/** Resolves when the endpoint answers anything over HTTP; rejects when it cannot be reached in time. */
async function askEndpoint(url: string): Promise<void> {
  const target = url.replace(/^ws(s?):/, 'http$1:');
  const response = await fetch(target, { method: 'GET', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  await response.body?.cancel();
}
