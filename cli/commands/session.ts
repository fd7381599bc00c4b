/**
 * A long-running client command (listen, presence): runs until Ctrl-C/SIGTERM or until the
 * command says it is done, closes the client, and turns the errors that make going on pointless
 * (refused or unreachable before the first connection) into a CliError; later errors are only
 * reported, as the client reconnects by itself.
 */
import type { RealtimeClient, RealtimeError } from '../../client/index';
import { CliError } from '../errors';

export interface Session {
  /** Ends the command: with an error, it exits non-zero. */
  finish(err?: CliError): void;
}

export function runSession(client: RealtimeClient, tokenHint: string, start: (session: Session) => void): Promise<void> {
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

    let connectedOnce = false;
    client.on('state', (state) => (connectedOnce ||= state === 'open'));
    client.on('error', (error: RealtimeError) => {
      if (!connectedOnce && error.code === 'UNAUTHORIZED') return finish(new CliError(`${error.message} (${tokenHint})`));
      if (!connectedOnce && (error.code === 'CONNECTION_FAILED' || (error.code === 'FORBIDDEN' && error.topics.length === 0))) return finish(new CliError(error.message));
      process.stderr.write(`realtime: ${error.message}\n`);
    });
    start({ finish });
  });
}
