import { expect } from 'chai';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  MessageNotInflight,
  QueueDoesNotExist,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  EmptyBatchRequest,
  TooManyEntriesInBatchRequest,
  BatchEntryIdsNotDistinct,
} from '@aws-sdk/client-sqs';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/constants';
import { md5OfAttributes, startSqs, type SqsEndpoint } from '../../local/sqs';

describe('local SQS endpoint', () => {
  let sqs: SqsEndpoint;
  let client: SQSClient;
  let mainUrl: string;
  let dlqUrl: string;
  let fastUrl: string;

  before(async () => {
    sqs = await startSqs({
      queues: [
        { name: 'main-dlq' },
        { name: 'main', settings: { visibilityTimeoutSeconds: 30 }, deadLetter: { queueName: 'main-dlq', maxReceiveCount: 5 } },
        { name: 'fast-dlq' },
        // Sub-second visibility (allowed internally, not through the API) keeps the redrive test short.
        { name: 'fast', settings: { visibilityTimeoutSeconds: 0.1 }, deadLetter: { queueName: 'fast-dlq', maxReceiveCount: 2 } },
      ],
    });
    client = new SQSClient({ endpoint: sqs.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
    mainUrl = sqs.queueUrl('main');
    dlqUrl = sqs.queueUrl('main-dlq');
    fastUrl = sqs.queueUrl('fast');
  });
  after(async () => {
    client.destroy();
    await sqs.close();
  });
  afterEach(() => {
    for (const name of ['main', 'main-dlq', 'fast', 'fast-dlq']) sqs.queue(name).purge();
  });

  const count = async (url: string) => {
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return { visible: Number(Attributes?.ApproximateNumberOfMessages), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) };
  };

  it('computes the attribute digest as AWS documents it (published test vectors)', () => {
    const binary = { DataType: 'Binary', BinaryValue: Buffer.from('Hello binary world!') };
    expect(md5OfAttributes({ attribName1: { DataType: 'String', StringValue: 'attribValue 1' } })).to.equal('19e27d4e946b072f3f58da80d94fd778');
    expect(md5OfAttributes({ customNumberTypeAttrib: { DataType: 'Number.float', StringValue: '4563442423554324324264524243.32543234' } })).to.equal(
      '9fe1b90bbd9965bdf77bac517c7d2495',
    );
    expect(md5OfAttributes({ binaryAttribute: binary })).to.equal('31a92b15d92f8db860eda32aceb656c3');
    expect(
      md5OfAttributes({
        binaryAttribute: binary,
        customNumberTypeAttrib: { DataType: 'Number.float', StringValue: '4563442423554324324264524243.32543234' },
        attribName1: { DataType: 'String', StringValue: 'attribValue 1' },
      }),
    ).to.equal('c932db14a896c663f83c260297d594ff');
    expect(md5OfAttributes({})).to.equal(undefined);
  });

  it('round-trips a message with attributes; the SDK verifies the body digests', async () => {
    const sent = await client.send(
      new SendMessageCommand({
        QueueUrl: mainUrl,
        MessageBody: '{"topic":"demo","data":"héllo ✓"}',
        MessageAttributes: { attribName1: { DataType: 'String', StringValue: 'attribValue 1' }, raw: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2]) } },
      }),
    );
    expect(sent.MessageId).to.match(/^[0-9a-f-]{36}$/);
    expect(sent.MD5OfMessageAttributes).to.equal(
      md5OfAttributes({ attribName1: { DataType: 'String', StringValue: 'attribValue 1' }, raw: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2]) } }),
    );
    const { Messages } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: mainUrl, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['attribName1'] }),
    );
    expect(Messages).to.have.length(1);
    const [m] = Messages!;
    expect(m.MessageId).to.equal(sent.MessageId);
    expect(m.Body).to.equal('{"topic":"demo","data":"héllo ✓"}');
    expect(m.Attributes).to.include({ ApproximateReceiveCount: '1', SenderId: LOCAL_CREDENTIALS.accessKeyId });
    expect(Number(m.Attributes!.SentTimestamp)).to.be.a('number').and.be.greaterThan(0);
    expect(Number(m.Attributes!.ApproximateFirstReceiveTimestamp)).to.be.at.least(Number(m.Attributes!.SentTimestamp));
    // Only the selected attribute comes back, with the digest of what came back.
    expect(m.MessageAttributes).to.deep.equal({ attribName1: { DataType: 'String', StringValue: 'attribValue 1' } });
    expect(m.MD5OfMessageAttributes).to.equal('19e27d4e946b072f3f58da80d94fd778');
    expect(await count(mainUrl)).to.deep.equal({ visible: 0, inFlight: 1 });
    await client.send(new DeleteMessageCommand({ QueueUrl: mainUrl, ReceiptHandle: m.ReceiptHandle }));
    expect(await count(mainUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
  });

  it('hides a received message for the visibility timeout, then redelivers it with a new receipt handle', async () => {
    await client.send(new SendMessageCommand({ QueueUrl: mainUrl, MessageBody: 'again' }));
    const first = await client.send(new ReceiveMessageCommand({ QueueUrl: mainUrl, VisibilityTimeout: 1, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    expect(first.Messages?.[0].Attributes?.ApproximateReceiveCount).to.equal('1');
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl: mainUrl }))).Messages).to.equal(undefined);
    const second = await client.send(new ReceiveMessageCommand({ QueueUrl: mainUrl, WaitTimeSeconds: 10, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    const m = second.Messages![0];
    expect(m.MessageId).to.equal(first.Messages![0].MessageId);
    expect(m.Attributes?.ApproximateReceiveCount).to.equal('2');
    expect(m.ReceiptHandle).to.not.equal(first.Messages![0].ReceiptHandle);
    // The stale handle is accepted but deletes nothing; the newest one deletes.
    await client.send(new DeleteMessageCommand({ QueueUrl: mainUrl, ReceiptHandle: first.Messages![0].ReceiptHandle }));
    expect(await count(mainUrl)).to.deep.equal({ visible: 0, inFlight: 1 });
    await client.send(new DeleteMessageCommand({ QueueUrl: mainUrl, ReceiptHandle: m.ReceiptHandle }));
    expect(await count(mainUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
  });

  it('ChangeMessageVisibility releases an in-flight message and refuses others by name', async () => {
    await client.send(new SendMessageCommand({ QueueUrl: mainUrl, MessageBody: 'release me' }));
    const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl: mainUrl, VisibilityTimeout: 600 }));
    const handle = Messages![0].ReceiptHandle!;
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: mainUrl, ReceiptHandle: handle, VisibilityTimeout: 0 }));
    expect(await count(mainUrl)).to.deep.equal({ visible: 1, inFlight: 0 });
    const err = await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: mainUrl, ReceiptHandle: handle, VisibilityTimeout: 5 })).catch((e) => e);
    expect(err).to.be.instanceOf(MessageNotInflight);
    const bad = await client.send(new DeleteMessageCommand({ QueueUrl: mainUrl, ReceiptHandle: 'not-a-handle' })).catch((e) => e);
    expect(bad).to.be.instanceOf(ReceiptHandleIsInvalid);
    const again = await client.send(new ReceiveMessageCommand({ QueueUrl: mainUrl, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    expect(again.Messages![0].Attributes?.ApproximateReceiveCount).to.equal('2');
  });

  it('moves a message to the dead-letter queue after maxReceiveCount receives', async () => {
    const sent = await client.send(new SendMessageCommand({ QueueUrl: fastUrl, MessageBody: 'poison' }));
    for (let i = 1; i <= 2; i++) {
      const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl: fastUrl, WaitTimeSeconds: 5, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
      expect(Messages![0].Attributes?.ApproximateReceiveCount).to.equal(String(i));
    }
    const fastDlqUrl = sqs.queueUrl('fast-dlq');
    const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl: fastDlqUrl, WaitTimeSeconds: 5, MessageSystemAttributeNames: ['All'] }));
    expect(Messages![0].MessageId).to.equal(sent.MessageId);
    expect(Messages![0].Body).to.equal('poison');
    expect(Messages![0].Attributes?.DeadLetterQueueSourceArn).to.equal('arn:aws:sqs:us-east-1:000000000000:fast');
    expect(await count(fastUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: mainUrl, AttributeNames: ['All'] }));
    expect(JSON.parse(Attributes!.RedrivePolicy!)).to.deep.equal({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:main-dlq', maxReceiveCount: 5 });
    expect(Attributes!.QueueArn).to.equal('arn:aws:sqs:us-east-1:000000000000:main');
    expect(Attributes!.VisibilityTimeout).to.equal('30');
  });

  it('runs batch operations entry by entry and validates the batch itself', async () => {
    const sent = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: mainUrl,
        Entries: [
          { Id: 'a', MessageBody: 'one' },
          { Id: 'b', MessageBody: 'bad \u0000 char' },
          { Id: 'c', MessageBody: 'three', DelaySeconds: 0 },
        ],
      }),
    );
    expect(sent.Successful!.map((s) => s.Id).sort()).to.deep.equal(['a', 'c']);
    expect(sent.Failed).to.have.length(1);
    expect(sent.Failed![0]).to.include({ Id: 'b', Code: 'InvalidMessageContents', SenderFault: true });
    const { Messages } = await client.send(new ReceiveMessageCommand({ QueueUrl: mainUrl, MaxNumberOfMessages: 10 }));
    expect(Messages!.map((m) => m.Body).sort()).to.deep.equal(['one', 'three']);
    const deleted = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: mainUrl,
        Entries: [...Messages!.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle })), { Id: 'junk', ReceiptHandle: 'junk' }],
      }),
    );
    expect(deleted.Successful!.map((s) => s.Id).sort()).to.deep.equal(['m0', 'm1']);
    expect(deleted.Failed![0]).to.include({ Id: 'junk', Code: 'ReceiptHandleIsInvalid' });
    expect(await count(mainUrl)).to.deep.equal({ visible: 0, inFlight: 0 });

    const empty = await client.send(new SendMessageBatchCommand({ QueueUrl: mainUrl, Entries: [] })).catch((e) => e);
    expect(empty).to.be.instanceOf(EmptyBatchRequest);
    const many = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' }));
    expect(await client.send(new SendMessageBatchCommand({ QueueUrl: mainUrl, Entries: many })).catch((e) => e)).to.be.instanceOf(TooManyEntriesInBatchRequest);
    const twice = [{ Id: 'same', MessageBody: 'x' }, { Id: 'same', MessageBody: 'y' }];
    expect(await client.send(new SendMessageBatchCommand({ QueueUrl: mainUrl, Entries: twice })).catch((e) => e)).to.be.instanceOf(BatchEntryIdsNotDistinct);
    expect(await count(mainUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
  });

  it('answers a long poll as soon as a message arrives', async () => {
    const polling = client.send(new ReceiveMessageCommand({ QueueUrl: mainUrl, WaitTimeSeconds: 20 }));
    await new Promise((r) => setTimeout(r, 50));
    await client.send(new SendMessageCommand({ QueueUrl: mainUrl, MessageBody: 'wake up' }));
    const { Messages } = await polling;
    expect(Messages?.[0].Body).to.equal('wake up');
  });

  it('gives nothing away to a long poll whose caller went away', async () => {
    const controller = new AbortController();
    const polling = client.send(new ReceiveMessageCommand({ QueueUrl: mainUrl, WaitTimeSeconds: 20 }), { abortSignal: controller.signal }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    expect((await polling).name).to.equal('AbortError');
    await new Promise((r) => setTimeout(r, 50));
    await client.send(new SendMessageCommand({ QueueUrl: mainUrl, MessageBody: 'still here' }));
    expect(await count(mainUrl)).to.deep.equal({ visible: 1, inFlight: 0 });
  });

  it('reports errors the way the SDK names them', async () => {
    expect(await client.send(new GetQueueUrlCommand({ QueueName: 'nope' })).catch((e) => e)).to.be.instanceOf(QueueDoesNotExist);
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: 'main-dlq' }));
    expect(QueueUrl).to.equal(dlqUrl);
    expect(dlqUrl).to.equal(`${sqs.endpoint}/000000000000/main-dlq`);
    const wrong = await client.send(new SendMessageCommand({ QueueUrl: `${sqs.endpoint}/000000000000/nope`, MessageBody: 'x' })).catch((e) => e);
    expect(wrong).to.be.instanceOf(QueueDoesNotExist);
    const tooMany = await client.send(new ReceiveMessageCommand({ QueueUrl: mainUrl, MaxNumberOfMessages: 11 })).catch((e) => e);
    expect(tooMany.name).to.equal('InvalidParameterValue');
    expect(tooMany.message).to.match(/MaxNumberOfMessages/);
    const big = await client.send(new SendMessageCommand({ QueueUrl: mainUrl, MessageBody: 'x'.repeat(1024 * 1024 + 1) })).catch((e) => e);
    expect(big.name).to.equal('InvalidParameterValue');
    const raw = await fetch(sqs.endpoint, { method: 'POST', headers: { 'x-amz-target': 'AmazonSQS.CreateQueue', 'content-type': 'application/x-amz-json-1.0' }, body: '{}' });
    expect(raw.status).to.equal(400);
    expect(raw.headers.get('x-amzn-query-error')).to.equal('AWS.SimpleQueueService.UnsupportedOperation;Sender');
    expect(await raw.json()).to.include({ __type: 'com.amazonaws.sqs#UnsupportedOperation' });
  });
});
