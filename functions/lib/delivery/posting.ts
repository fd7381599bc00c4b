/**
 * What the two functions that post to subscribers build once per container: the management API
 * client, the delivery queue for what they leave over, and their share of the stack's rate
 * budget (one per container: a ledger lease outlives an invocation within its second).
 */
import { ENV } from '../../../protocol/env';
import { makeManagementApi, makeSqsClient } from '../clients';
import { required, type EnvMap } from '../config';
import { makePresence } from '../presence';
import type { Runtime } from '../runtime';
import { JobQueue } from './job-queue';
import type { Poster } from './management-api';
import { RateBudget } from './rate-budget';

export interface Posting {
  poster: Poster;
  jobs: JobQueue;
  /** Absent when RATE_BUDGET is 0. */
  budget?: RateBudget;
  /** With presence topics: a 410's cleanup also leaves them (presence/). */
  forgetConnection?: (connectionId: string) => Promise<number>;
}

export function makePosting(runtime: Runtime, env: EnvMap, options: { poster?: Poster; budgetShare?: number } = {}): Posting {
  const { config, ddb, tableName, logger } = runtime;
  // One SQS client for the delivery queue and, with presence topics, the publish queue.
  const sqs = makeSqsClient(config);
  const presence = makePresence(runtime, sqs);
  return {
    ...(presence ? { forgetConnection: (id: string) => presence.forget(id) } : {}),
    poster: options.poster ?? makeManagementApi(config, env),
    jobs: new JobQueue({
      sqs,
      queueUrl: required(config.deliveryQueueUrl, ENV.deliveryQueueUrl),
      deadLetterUrl: required(config.deliveryDlqUrl, ENV.deliveryDlqUrl),
      maxAttempts: config.deliveryMaxAttempts,
    }),
    ...(config.rateBudget > 0 ? { budget: new RateBudget({ ddb, tableName, perSecond: config.rateBudget, share: options.budgetShare, logger }) } : {}),
  };
}
