import { expect } from 'chai';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { md5Hex, Queue, QueueJournal } from '../../local/sqs';
import { startLocal } from '../../local/system';
import { eventually, sdkClients, startCli } from './system-helpers';

const arn = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

/** The publish queue and its DLQ, as startSqs wires them. */
function queues(): Map<string, Queue> {
  const dlq = new Queue('dlq', arn('dlq'));
  const work = new Queue('work', arn('work'), { visibilityTimeoutSeconds: 300 });
  work.redrive = { deadLetterQueue: dlq, maxReceiveCount: 2 };
  return new Map([
    ['work', work],
    ['dlq', dlq],
  ]);
}

const closeAll = (qs: Map<string, Queue>) => qs.forEach((q) => q.close());

describe('local SQS journal (queues kept with --data)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'realtime-journal-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('puts back every message with its attributes, receive count and state; deletes and DLQ moves stick', async () => {
    const file = join(dir, 'queues.jsonl');
    const first = queues();
    const { journal } = QueueJournal.open(file, first);
    const work = first.get('work')!;
    const a = work.send({ body: 'a', attributes: { bin: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 255]) }, s: { DataType: 'String', StringValue: 'x' } }, senderId: 'AIDA' });
    const b = work.send({ body: 'b' });
    const gone = work.send({ body: 'deleted' });
    const later = work.send({ body: 'later', delaySeconds: 900 });
    // a: received once (in flight when we stop); b: received twice (its last allowed receive); `gone` deleted.
    const received = await work.receive({ maxMessages: 10 });
    expect(received.map((d) => d.body).sort()).to.deep.equal(['a', 'b', 'deleted']);
    work.delete(received.find((d) => d.body === 'deleted')!.receiptHandle);
    work.changeVisibility(received.find((d) => d.body === 'b')!.receiptHandle, 0);
    const again = await work.receive({ maxMessages: 10 });
    expect(again.map((d) => d.body)).to.deep.equal(['b']);
    // One message already in the DLQ, moved there by an earlier redrive.
    const dead = work.send({ body: 'dead' });
    const [d1] = await work.receive({ maxMessages: 1 });
    work.changeVisibility(d1.receiptHandle, 0);
    const [d2] = await work.receive({ maxMessages: 1 });
    work.changeVisibility(d2.receiptHandle, 0);
    await eventually(() => first.get('dlq')!.counts().visible === 1, 'the redrive');
    journal.close();
    closeAll(first);

    const second = queues();
    const opened = QueueJournal.open(file, second);
    try {
      // b had used up its receives: it goes to the DLQ now, as its next receive would have sent it.
      expect(opened).to.deep.include({ restored: { work: 2, dlq: 1 }, deadLettered: 1, skipped: 0 });
      expect(second.get('work')!.counts()).to.deep.equal({ visible: 1, inFlight: 0, delayed: 1 });
      // Rewritten at start: one line per message held.
      expect(readFileSync(file, 'utf8').trim().split('\n')).to.have.length(4);
      const [restoredA] = await second.get('work')!.receive({ maxMessages: 10 });
      expect(restoredA).to.deep.include({ messageId: a.messageId, body: 'a', md5OfBody: md5Hex('a'), senderId: 'AIDA', receiveCount: 2 });
      expect(restoredA.attributes.bin.BinaryValue).to.deep.equal(Buffer.from([0, 1, 255]));
      expect(restoredA.attributes.s).to.deep.equal({ DataType: 'String', StringValue: 'x' });
      const dlq = await second.get('dlq')!.receive({ maxMessages: 10 });
      expect(dlq.map((m) => m.messageId).sort()).to.deep.equal([b.messageId, dead.messageId].sort());
      expect(dlq.every((m) => m.deadLetterQueueSourceArn === arn('work') && m.receiveCount === 1)).to.equal(true);
      expect(second.get('work')!.snapshot().find((m) => m.messageId === later.messageId)?.visibleAt).to.be.greaterThan(Date.now() + 800_000);
      expect(second.get('work')!.snapshot().some((m) => m.messageId === gone.messageId)).to.equal(false);
    } finally {
      opened.journal.close();
      closeAll(second);
    }
  });

  it('skips a torn last line and a purge empties the queue for good', () => {
    const file = join(dir, 'queues.jsonl');
    const first = queues();
    const { journal } = QueueJournal.open(file, first);
    first.get('dlq')!.send({ body: 'purged' });
    first.get('dlq')!.purge();
    first.get('dlq')!.send({ body: 'kept' });
    journal.close();
    closeAll(first);
    appendFileSync(file, '{"op":"sent","queue":"dlq","mess');

    const second = queues();
    const opened = QueueJournal.open(file, second);
    try {
      expect(opened).to.deep.include({ restored: { dlq: 1 }, skipped: 1 });
      expect(second.get('dlq')!.snapshot().map((m) => m.body)).to.deep.equal(['kept']);
    } finally {
      opened.journal.close();
      closeAll(second);
    }
  });

  it('npm start --data: messages SQS accepted survive Ctrl-C, in flight or delayed, with their receive counts', async function () {
    this.timeout(60_000);
    const first = await startLocal({ quiet: true, dataDir: dir, queue: { maxReceiveCount: 2 } });
    let aws = sdkClients(first.outputs);
    const { queueUrl, dlqUrl } = first.outputs;
    const ids: Record<'parked' | 'exhausted', string | undefined> = { parked: undefined, exhausted: undefined };
    try {
      // Nothing consumes the publish queue now: what is sent stays there.
      await first.poller.stop();
      const send = (body: string, extra: object = {}) => aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, ...extra }));
      const delayed = await send('{"topic":"t","data":"delayed"}', { DelaySeconds: 900 });
      const receive = (max: number, visibility: number) => aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max, VisibilityTimeout: visibility }));
      // `exhausted` is received twice (its last allowed receive), `inFlight` once; both are in flight at the stop.
      const exhausted = await send('{"topic":"t","data":"exhausted"}');
      expect((await receive(1, 0)).Messages?.map((m) => m.MessageId)).to.deep.equal([exhausted.MessageId]);
      const inFlight = await send('{"topic":"t","data":"in flight"}');
      expect((await receive(10, 300)).Messages?.map((m) => m.MessageId).sort()).to.deep.equal([exhausted.MessageId, inFlight.MessageId].sort());
      // And one never received, and one parked in the DLQ.
      await send('{"topic":"t","data":"x"}');
      const dlqMessage = await aws.sqs.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: 'parked', MessageAttributes: { why: { DataType: 'String', StringValue: 'test' } } }));
      expect(delayed.MessageId).to.be.a('string');
      ids.parked = dlqMessage.MessageId;
      ids.exhausted = exhausted.MessageId;
      expect(delayed.MessageId).to.be.a('string');
    } finally {
      aws.destroy();
      await first.stop();
    }

    const second = await startLocal({ quiet: true, dataDir: dir, queue: { maxReceiveCount: 2 } });
    aws = sdkClients(second.outputs);
    try {
      // The DLQ: the parked message, and `exhausted`, moved there at start (its receives were used up).
      const dlq = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: second.outputs.dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] }));
      const byId = new Map((dlq.Messages ?? []).map((m) => [m.MessageId, m]));
      expect([...byId.keys()].sort()).to.deep.equal([ids.parked, ids.exhausted].sort());
      expect(byId.get(ids.parked)).to.deep.include({ Body: 'parked' });
      expect(byId.get(ids.parked)!.MessageAttributes).to.deep.equal({ why: { DataType: 'String', StringValue: 'test' } });
      expect(byId.get(ids.exhausted)!.Attributes).to.include({ DeadLetterQueueSourceArn: second.sqs.queue('realtime-publish').arn });
      // The publish queue: the delayed one still delayed; the in-flight one and `x` went to the publish function.
      await eventually(() => second.poller.stats().succeeded === 2, 'the restored messages to be published');
      const { Attributes } = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: second.outputs.queueUrl, AttributeNames: ['All'] }));
      expect(Attributes).to.include({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '1' });
    } finally {
      aws.destroy();
      await second.stop();
    }
  });

  it('npm start --data: a message SQS accepted survives a crash (SIGKILL)', async function () {
    this.timeout(60_000);
    const cli = startCli(['--json', '--port', '0', '--quiet', '--data', dir]);
    let sent: string | undefined;
    try {
      const outputs = await cli.outputs;
      const aws = sdkClients(outputs);
      // The DLQ: nothing consumes it.
      sent = (await aws.sqs.send(new SendMessageCommand({ QueueUrl: outputs.dlqUrl, MessageBody: 'accepted just before the crash' }))).MessageId;
      aws.destroy();
    } finally {
      cli.signal('SIGKILL');
    }
    await cli.exited;
    const system = await startLocal({ quiet: true, dataDir: dir });
    const aws = sdkClients(system.outputs);
    try {
      const { Messages } = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: system.outputs.dlqUrl, MaxNumberOfMessages: 10 }));
      expect(Messages?.map((m) => [m.MessageId, m.Body])).to.deep.equal([[sent, 'accepted just before the crash']]);
    } finally {
      aws.destroy();
      await system.stop();
    }
  });
});
