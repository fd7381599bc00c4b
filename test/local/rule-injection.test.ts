/**
 * End to end in local mode, with a real AWS SDK EventBridge client: an event whose field tries to
 * name another topic (`x","topic":"users/bob/inbox`) is refused by the publish function — logged
 * without its content, not published, not retried — while well-formed events still publish.
 */
import { expect } from 'chai';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { startLocal, type LocalSystem } from '../../local/system';
import { DIRECT_PUBLISH_DETAIL_TYPE, DIRECT_PUBLISH_RULE, DIRECT_PUBLISH_SOURCE } from '../../protocol/direct-publish';
import { captureOutput } from '../functions/helpers';
import { openSocket, type Client } from './auth-fixtures';
import { eventually, queueCounts, sdkClients, expectSubscribed } from './system-helpers';

describe('local mode: EventBridge field injection', () => {
  let system: LocalSystem;
  let aws: ReturnType<typeof sdkClients>;
  const open: Client[] = [];

  before(async () => {
    system = await startLocal({
      quiet: true,
      logLevel: 'ERROR',
      eventRules: [{ name: 'orders', eventPattern: { source: ['shop.orders'] }, topic: 'orders/{detail.orderId}' }, DIRECT_PUBLISH_RULE],
    });
    aws = sdkClients(system.outputs);
  });
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    aws?.destroy();
    await system?.stop();
  });

  const subscriber = async (...topics: string[]) => {
    const client = await openSocket(system.outputs.websocketUrl);
    open.push(client);
    expectSubscribed(await client.request({ action: 'subscribe', topics }), topics);
    return client;
  };
  const order = (orderId: unknown) => ({ Source: 'shop.orders', DetailType: 'Order Shipped', Detail: JSON.stringify({ orderId, note: 'do-not-log-me' }) });

  it("never lets an event's field publish into Bob's inbox; the event is logged without its content and not retried", async () => {
    const bob = await subscriber('users/bob/inbox');
    const shop = await subscriber('orders/x', 'orders/42');

    const { result: eventIds, lines } = await captureOutput(async () => {
      const out = await aws.events.send(
        new PutEventsCommand({ Entries: [order('x","topic":"users/bob/inbox'), order('../users/bob/inbox'), order('x\\"}'), order(42)] }),
      );
      expect(out.FailedEntryCount).to.equal(0);
      // The well-formed event (a number is one segment) still publishes.
      expect(await shop.next((f) => f.type === 'message', 'the order event')).to.deep.include({ topic: 'orders/42', id: out.Entries![3].EventId });
      await eventually(async () => {
        const counts = await queueCounts(aws.sqs, system.outputs.queueUrl);
        return counts.visible === 0 && counts.inFlight === 0;
      }, 'the publish queue to drain');
      return out.Entries!.map((e) => e.EventId!);
    });

    // Not retried: nothing waits in the DLQ.
    expect(await queueCounts(aws.sqs, system.outputs.dlqUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
    // Bob's inbox still works, and the first message it ever got is this one, published after the others were refused.
    await aws.events.send(
      new PutEventsCommand({
        Entries: [{ Source: DIRECT_PUBLISH_SOURCE, DetailType: DIRECT_PUBLISH_DETAIL_TYPE, Detail: JSON.stringify({ topic: 'users/bob/inbox', data: { marker: 1 } }) }],
      }),
    );
    expect(await bob.next(() => true, "Bob's first frame")).to.deep.include({ type: 'message', topic: 'users/bob/inbox', data: { marker: 1 } });

    const rejected = lines.map((l) => JSON.parse(l) as Record<string, string>).filter((l) => l.message === 'envelope rejected, not retried');
    expect(rejected.map((l) => l.messageId).sort()).to.deep.equal(eventIds.slice(0, 3).sort());
    for (const line of rejected) expect(line.reason).to.match(/^rule orders: \{detail\.orderId\} = ".*"…? (contains "\/"|has characters a topic segment cannot have)/);
    const text = lines.join('\n');
    expect(text).to.not.contain('users/bob/inbox');
    expect(text).to.not.contain('do-not-log-me');
  });
});
