/**
 * `realtime presence <topic>`: who is in a presence topic. Prints the members as one JSON line,
 * `{"topic","members":[…],"count"}` (no `members` above the server's list cap), then one line per
 * join or leave, `{"topic","event":"join"|"leave","member":{…},"count"}`, until Ctrl-C; with
 * --once, only the list. Subscribing makes this principal a member too (presence counts
 * subscribers), so its own join is in the list.
 */
import { RealtimeClient, type RealtimeError } from '../../client/index';
import { CliError } from '../errors';
import { runSession } from './session';
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

  return runSession(client, 'presence needs a token: `realtime token` mints one for the local mode', ({ finish }) => {
    client.presence(topic).then(
      (room) => {
        line({ topic, ...(room.listed ? { members: [...room.members.values()] } : {}), count: room.count });
        if (options.once) return finish();
        room.on('join', (member) => line({ topic, event: 'join', member, count: room.count }));
        room.on('leave', (member) => line({ topic, event: 'leave', member, count: room.count }));
        process.stderr.write(`following ${topic} at ${target.outputs.websocketUrl} (Ctrl-C to stop)\n`);
      },
      (err: RealtimeError) => finish(new CliError(err.code === 'NOT_PRESENCE' ? err.message : `subscribe refused: ${err.code}: ${err.message}`)),
    );
  });
}
