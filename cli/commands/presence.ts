/**
 * `realtime presence <topic>`: who is in a presence topic. Prints the members as one JSON line,
 * `{"topic","members":[…],"count"}` (no `members` above the server's list cap), then one line per
 * join or leave, `{"topic","event":"join"|"leave","member":{…},"count"}`, until Ctrl-C; with
 * --once, only the list. Subscribing makes this principal a member too (presence counts
 * subscribers), so its own join is in the list.
 */
import { RealtimeClient, type RealtimeError } from '../../client';
import { CliError } from '../errors';
import { resolveTarget, type TargetFlags } from '../target';
import { checkTopic } from '../topics';

export interface PresenceOptions extends TargetFlags {
  token?: string;
  tokenTransport: 'query' | 'subprotocol';
  /** Print the member list and exit. */
  once?: boolean;
}

export async function presence(topic: string, options: PresenceOptions): Promise<void> {
  checkTopic(topic);
  const target = await resolveTarget(options, ['websocketUrl']);
  const client = new RealtimeClient({ url: target.outputs.websocketUrl!, token: options.token, tokenTransport: options.tokenTransport });
  const line = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

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
    let opened = false;
    client.on('state', (state) => (opened ||= state === 'open'));
    client.on('error', (error: RealtimeError) => {
      if (!opened && error.code === 'UNAUTHORIZED') return finish(new CliError(`${error.message} (presence needs a token: \`realtime token\` mints one for the local mode)`));
      if (!opened && (error.code === 'CONNECTION_FAILED' || (error.code === 'FORBIDDEN' && error.topics.length === 0))) return finish(new CliError(error.message));
      process.stderr.write(`realtime: ${error.message}\n`);
    });

    client.presence(topic).then(
      (room) => {
        line({ topic, ...(room.listed ? { members: [...room.members.values()] } : {}), count: room.count });
        if (options.once) return finish();
        room.on('join', (member) => line({ topic, event: 'join', member, count: room.count }));
        room.on('leave', (member) => line({ topic, event: 'leave', member, count: room.count }));
        process.stderr.write(`following ${topic} at ${target.outputs.websocketUrl} (Ctrl-C to stop)\n`);
      },
      (err: RealtimeError) => finish(new CliError(`subscribe refused: ${err.code}: ${err.message}`)),
    );
  });
}
