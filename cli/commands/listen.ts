/** `realtime listen <topic…>`: one JSON line per message on stdout until Ctrl-C (or --count). */
import { RealtimeClient, type RealtimeError } from '../../client';
import { CliError } from '../errors';
import { resolveTarget, type TargetFlags } from '../target';
import { checkTopic } from '../topics';

export interface ListenOptions extends TargetFlags {
  token?: string;
  tokenTransport: 'query' | 'subprotocol';
  /** Exit after this many messages. */
  count?: number;
  /** Resume every topic from this position: what was published after it is replayed first. */
  since?: { epoch?: string; seq: number };
}

/** Resolves when listening ends normally (--count reached or SIGINT); rejects with a CliError. */
export async function listen(topics: string[], options: ListenOptions): Promise<void> {
  topics.forEach(checkTopic);
  const target = await resolveTarget(options, ['websocketUrl']);
  const client = new RealtimeClient({ url: target.outputs.websocketUrl!, token: options.token, tokenTransport: options.tokenTransport });
  let received = 0;
  let connectedOnce = false;

  return new Promise<void>((resolve, reject) => {
    const finish = (err?: CliError) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      client.close();
      if (err) reject(err);
      else resolve();
    };
    const onSignal = () => finish();
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    client.on('error', (error: RealtimeError) => {
      // Before the first connection an unreachable or refusing endpoint is fatal; after it,
      // the client reconnects on its own and we only say so.
      if (!connectedOnce && error.code === 'UNAUTHORIZED') return finish(new CliError(`${error.message} (pass --token <jwt>; \`realtime token\` mints one for the local mode)`));
      if (!connectedOnce && (error.code === 'CONNECTION_FAILED' || (error.code === 'FORBIDDEN' && error.topics.length === 0))) return finish(new CliError(error.message));
      process.stderr.write(`realtime: ${error.message}\n`);
    });
    client.on('state', (state) => {
      if (state === 'open') connectedOnce = true;
    });
    // A gap the server could not fill: say so, once per gap (the app behind a pipe would reload here).
    client.on('gap', (gap) => process.stderr.write(`realtime: ${gap.topic}: messages after ${gap.from.seq} are no longer kept (${gap.reason}); continuing from ${gap.to.epoch}:${gap.to.seq}\n`));

    Promise.all(
      topics.map((topic) =>
        client.subscribe(
          topic,
          (message) => {
            if (options.count !== undefined && received >= options.count) return;
            received++;
            const { topic: t, id, seq, epoch, data, publishedAt, from } = message;
            process.stdout.write(`${JSON.stringify({ topic: t, id, ...(seq !== undefined ? { seq, epoch } : {}), data, publishedAt, ...(from !== undefined ? { from } : {}) })}\n`);
            if (options.count !== undefined && received >= options.count) finish();
          },
          options.since ? { since: options.since } : undefined,
        ),
      ),
    ).then(
      () => process.stderr.write(`listening on ${topics.join(', ')} at ${target.outputs.websocketUrl} (Ctrl-C to stop)\n`),
      (err: RealtimeError) => {
        const about = err.topics.length > 0 ? ` (${err.topics.join(', ')})` : '';
        finish(new CliError(`subscribe refused: ${err.code}: ${err.message}${about}`));
      },
    );
  });
}
