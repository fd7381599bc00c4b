import { topicSchema } from '../protocol/messages';
import { CliError } from './errors';

/** Refuses a bad topic name with the protocol's own reason. */
export function checkTopic(topic: string): void {
  const parsed = topicSchema().safeParse(topic);
  if (!parsed.success) throw new CliError(`invalid topic "${topic}": ${parsed.error.issues[0].message}`);
}
