/** `realtime listen <topic…>`: one JSON line per message on stdout until Ctrl-C (or --count). */
import { RealtimeClient, type RealtimeError } from '../../client/index';
import { CliError } from '../errors';
import { runSession } from './session';
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

  return runSession(client, 'pass --token <jwt>; `realtime token` mints one for the local mode', ({ finish }) => {
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
