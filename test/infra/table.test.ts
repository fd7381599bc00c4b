/** The connections table matches protocol/table.ts and is durable and encrypted. */
import { expect } from 'chai';
import { TABLE } from '../../protocol/table';
import { runProgram, type Recorded } from './harness';

describe('infra: connections table', function () {
  // Each run of the program bundles and registers ~70 resources: slow on a loaded machine.
  this.timeout(120_000);
  let table: Recorded;
  before(async () => {
    table = (await runProgram()).named('aws:dynamodb/table:Table', 'realtime-connections-table');
  });

  it('is on-demand with connectionId/sk keys', () => {
    expect(table.inputs.billingMode).to.equal('PAY_PER_REQUEST');
    expect(table.inputs.hashKey).to.equal(TABLE.partitionKey);
    expect(table.inputs.rangeKey).to.equal(TABLE.sortKey);
    expect(table.inputs.attributes).to.have.deep.members([
      { name: 'connectionId', type: 'S' },
      { name: 'sk', type: 'S' },
      { name: 'topic', type: 'S' },
    ]);
  });

  it('has the sparse byTopic index, keys only, declared with keySchemas (not the deprecated hashKey/rangeKey)', () => {
    expect(table.inputs.globalSecondaryIndexes).to.deep.equal([
      {
        name: 'byTopic',
        keySchemas: [
          { attributeName: 'topic', keyType: 'HASH' },
          { attributeName: 'connectionId', keyType: 'RANGE' },
        ],
        projectionType: 'KEYS_ONLY',
      },
    ]);
  });

  it('expires rows on expiresAt, keeps point-in-time recovery and encrypts at rest', () => {
    expect(table.inputs.ttl).to.deep.equal({ attributeName: 'expiresAt', enabled: true });
    expect(table.inputs.pointInTimeRecovery).to.deep.equal({ enabled: true });
    expect(table.inputs.serverSideEncryption).to.deep.include({ enabled: true });
  });
});
