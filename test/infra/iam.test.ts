/**
 * Least privilege: each function's inline policy, parsed, grants exactly what its handler code
 * calls (read from functions/), on this stack's resources only.
 */
import { expect } from 'chai';
import { MANAGEMENT_OPERATIONS } from '../../functions/lib/delivery/management-api';
import {
  ACCOUNT,
  API_ID,
  AUTH_JWKS,
  AUTH_SECRETS_MANAGER,
  AUTH_SSM,
  PRESENCE,
  REGION,
  asList,
  functionParts,
  grants,
  runProgram,
  statementsOf,
  type ProgramRun,
} from './harness';
import { constructedByOurCode } from './bundle-calls';

describe('infra: least-privilege IAM', function () {
  // Each run of the program bundles and registers ~70 resources: slow on a loaded machine.
  this.timeout(120_000);
  let run: ProgramRun;
  /** The same stack with presence topics (and auth, which they need). */
  let presenceRun: ProgramRun;
  let tableArn: string;
  let historyArn: string;
  let queueArn: string;
  let deliveryArn: string;
  let deliveryDlqArn: string;
  before(async () => {
    run = await runProgram();
    presenceRun = await runProgram(PRESENCE);
    tableArn = run.named('aws:dynamodb/table:Table', 'realtime-connections-table').state.arn;
    historyArn = run.named('aws:dynamodb/table:Table', 'realtime-history-table').state.arn;
    queueArn = run.named('aws:sqs/queue:Queue', 'realtime-pipeline-queue').state.arn;
    deliveryArn = run.named('aws:sqs/queue:Queue', 'realtime-delivery-queue').state.arn;
    deliveryDlqArn = run.named('aws:sqs/queue:Queue', 'realtime-delivery-dlq').state.arn;
  });
  const postToStage = () => `execute-api:ManageConnections on arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}/prod/POST/@connections/*`;
  const consume = (arn: string) => ['ChangeMessageVisibility', 'DeleteMessage', 'GetQueueAttributes', 'ReceiveMessage'].map((a) => `sqs:${a} on ${arn}`);
  const sendJobs = () => [`sqs:SendMessage on ${deliveryDlqArn}`, `sqs:SendMessage on ${deliveryArn}`];

  /** The grants of the handler's policy, with its own log-group grant checked and removed. */
  async function grantsBesidesLogs(r: ProgramRun, handler: string): Promise<string[]> {
    const { policy, logGroup } = await functionParts(r, handler);
    const all = grants(policy.inputs.policy);
    const logs = [`logs:CreateLogStream on ${logGroup.state.arn}:*`, `logs:PutLogEvents on ${logGroup.state.arn}:*`];
    expect(all, `${handler} writes its own log group`).to.include.members(logs);
    return all.filter((g) => !logs.includes(g));
  }

  const expected: Record<string, () => string[]> = {
    connect: () => [`dynamodb:PutItem on ${tableArn}`],
    disconnect: () => [`dynamodb:BatchWriteItem on ${tableArn}`, `dynamodb:Query on ${tableArn}`],
    subscribe: () => [
      `dynamodb:BatchWriteItem on ${tableArn}`,
      `dynamodb:DeleteItem on ${tableArn}`,
      `dynamodb:GetItem on ${tableArn}`,
      `dynamodb:PutItem on ${tableArn}`,
      `dynamodb:Query on ${tableArn}`,
      `dynamodb:UpdateItem on ${tableArn}`,
      // positions and replays (functions/lib/history/replay.ts)
      `dynamodb:GetItem on ${historyArn}`,
      `dynamodb:Query on ${historyArn}`,
      `dynamodb:UpdateItem on ${historyArn}`,
      postToStage(),
    ],
    unsubscribe: () => [`dynamodb:DeleteItem on ${tableArn}`, `dynamodb:UpdateItem on ${tableArn}`],
    default: () => [],
    // The publish window on the $connection item (rate limit), and the publish queue: nothing more.
    relay: () => [`dynamodb:GetItem on ${tableArn}`, `dynamodb:UpdateItem on ${tableArn}`, `sqs:SendMessage on ${queueArn}`],
    publish: () => [
      `dynamodb:BatchWriteItem on ${tableArn}`,
      `dynamodb:Query on ${tableArn}`,
      `dynamodb:Query on ${tableArn}/index/byTopic`,
      `dynamodb:UpdateItem on ${tableArn}`,
      `dynamodb:DeleteItem on ${historyArn}`,
      `dynamodb:GetItem on ${historyArn}`,
      `dynamodb:PutItem on ${historyArn}`,
      `dynamodb:UpdateItem on ${historyArn}`,
      postToStage(),
      ...consume(queueArn),
      ...sendJobs(),
    ],
    deliver: () => [
      `dynamodb:BatchWriteItem on ${tableArn}`,
      `dynamodb:Query on ${tableArn}`,
      `dynamodb:UpdateItem on ${tableArn}`,
      postToStage(),
      ...consume(deliveryArn),
      ...sendJobs(),
    ],
  };

  for (const [handler, want] of Object.entries(expected)) {
    it(`grants ${handler} exactly what its code calls`, async () => {
      expect(await grantsBesidesLogs(run, handler)).to.deep.equal(want().sort());
    });
  }

  describe('with presence topics', () => {
    const presenceTable = (handler: string) =>
      (handler === 'unsubscribe' ? ['DeleteItem', 'GetItem', 'UpdateItem'] : ['BatchWriteItem', 'DeleteItem', 'GetItem', 'Query', 'UpdateItem']).map((a) => `dynamodb:${a} on ${tableArn}`);
    for (const handler of ['subscribe', 'unsubscribe', 'disconnect', 'publish', 'deliver']) {
      it(`${handler} also joins and leaves (table actions; unsubscribe only leaves: no Query, no BatchWriteItem) and announces (SendMessage on the publish queue only)`, async () => {
        const want = [...new Set([...expected[handler](), ...presenceTable(handler), `sqs:SendMessage on ${queueArn}`])].sort();
        expect(await grantsBesidesLogs(presenceRun, handler)).to.deep.equal(want);
      });
    }
    it('tells the functions that join and leave the presence topics and the publish queue, and no other', async () => {
      const queueUrl = presenceRun.named('aws:sqs/queue:Queue', 'realtime-pipeline-queue').state.url;
      for (const handler of ['subscribe', 'unsubscribe', 'disconnect', 'publish', 'deliver', 'relay', 'connect']) {
        const vars = (await functionParts(presenceRun, handler)).fn.inputs.environment.variables as Record<string, string>;
        const joins = handler !== 'relay' && handler !== 'connect';
        expect(vars.PRESENCE_TOPICS, handler).to.equal(joins ? '["room/*"]' : undefined);
        expect(vars.PUBLISH_QUEUE_URL, handler).to.equal(handler === 'connect' ? undefined : queueUrl);
        const without = (await functionParts(run, handler)).fn.inputs.environment.variables as Record<string, string>;
        expect(without.PRESENCE_TOPICS, handler).to.equal(undefined);
        expect(without.PUBLISH_QUEUE_URL, handler).to.equal(handler === 'relay' ? run.named('aws:sqs/queue:Queue', 'realtime-pipeline-queue').state.url : undefined);
      }
    });
    for (const handler of ['connect', 'default', 'relay']) {
      it(`${handler} is as without presence`, async () => {
        expect(await grantsBesidesLogs(presenceRun, handler)).to.deep.equal(expected[handler]().sort());
      });
    }
  });

  it('never grants a "*" resource, a wildcard action or a Deny-less escape, in any role', () => {
    for (const policy of run.ofType('aws:iam/rolePolicy:RolePolicy')) {
      for (const s of statementsOf(policy.inputs.policy)) {
        expect(s.Effect, policy.name).to.equal('Allow');
        for (const resource of asList(s.Resource)) expect(resource, `${policy.name} ${s.Sid}`).to.not.equal('*');
        for (const action of asList(s.Action)) expect(action, `${policy.name} ${s.Sid}`).to.match(/^[a-z0-9-]+:[A-Za-z]+$/);
      }
    }
  });

  it('uses no managed policies, and lets only Lambda assume the function roles', async () => {
    expect(run.ofType('aws:iam/rolePolicyAttachment:RolePolicyAttachment')).to.have.length(0);
    for (const handler of Object.keys(expected)) {
      const { role } = await functionParts(run, handler);
      expect(role.inputs.managedPolicyArns, handler).to.equal(undefined);
      expect(JSON.parse(role.inputs.assumeRolePolicy).Statement).to.deep.equal([
        { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ]);
    }
  });

  it('scopes ManageConnections to POST on this API and stage, for the functions that post and no other', async () => {
    for (const handler of ['publish', 'deliver', 'subscribe']) {
      const { policy } = await functionParts(run, handler);
      const manage = statementsOf(policy.inputs.policy).filter((s) => asList(s.Action).includes('execute-api:ManageConnections'));
      expect(manage.flatMap((s) => asList(s.Resource)), handler).to.deep.equal([`arn:aws:execute-api:${REGION}:${ACCOUNT}:${API_ID}/prod/POST/@connections/*`]);
    }
    for (const handler of ['connect', 'disconnect', 'unsubscribe', 'default', 'relay']) {
      const { policy } = await functionParts(run, handler);
      expect(JSON.stringify(policy.inputs.policy), handler).to.not.include('execute-api');
    }
  });

  describe('authorizer', () => {
    it('reads exactly one SSM parameter, with no KMS grant for the AWS-managed key', async () => {
      const r = await runProgram(AUTH_SSM);
      expect(await grantsBesidesLogs(r, 'authorizer')).to.deep.equal([`ssm:GetParameter on arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/realtime/jwt-secret`]);
    });

    it('reads exactly one Secrets Manager secret, and decrypts with its customer key only through Secrets Manager', async () => {
      const r = await runProgram(AUTH_SECRETS_MANAGER);
      expect(await grantsBesidesLogs(r, 'authorizer')).to.deep.equal(
        [`kms:Decrypt on ${AUTH_SECRETS_MANAGER.authKmsKeyArn}`, `secretsmanager:GetSecretValue on ${AUTH_SECRETS_MANAGER.authSecretArn}`].sort(),
      );
      const { policy } = await functionParts(r, 'authorizer');
      const kms = statementsOf(policy.inputs.policy).find((s) => asList(s.Action).includes('kms:Decrypt'));
      expect(kms?.Condition).to.deep.equal({ StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` } });
    });

    it('needs no secret access with a JWKS URL', async () => {
      const r = await runProgram(AUTH_JWKS);
      expect(await grantsBesidesLogs(r, 'authorizer')).to.deep.equal([]);
    });

    it('leaves the other functions as they were', async () => {
      const r = await runProgram(AUTH_SSM);
      for (const handler of Object.keys(expected)) {
        const a = await functionParts(r, handler);
        const b = await functionParts(run, handler);
        expect(a.policy.inputs.policy, handler).to.equal(b.policy.inputs.policy);
      }
    });
  });

  describe('matches the AWS calls in the shipped code', () => {
    /** SDK command → the IAM action it needs. An unknown command fails the test: map it, then grant it. */
    const ACTION_OF_COMMAND: Record<string, string> = {
      PutCommand: 'dynamodb:PutItem',
      PutItemCommand: 'dynamodb:PutItem',
      GetCommand: 'dynamodb:GetItem',
      GetItemCommand: 'dynamodb:GetItem',
      QueryCommand: 'dynamodb:Query',
      ScanCommand: 'dynamodb:Scan',
      DeleteCommand: 'dynamodb:DeleteItem',
      DeleteItemCommand: 'dynamodb:DeleteItem',
      UpdateCommand: 'dynamodb:UpdateItem',
      UpdateItemCommand: 'dynamodb:UpdateItem',
      BatchWriteCommand: 'dynamodb:BatchWriteItem',
      BatchWriteItemCommand: 'dynamodb:BatchWriteItem',
      BatchGetCommand: 'dynamodb:BatchGetItem',
      BatchGetItemCommand: 'dynamodb:BatchGetItem',
      PostToConnectionCommand: 'execute-api:ManageConnections',
      GetConnectionCommand: 'execute-api:ManageConnections',
      DeleteConnectionCommand: 'execute-api:ManageConnections',
      GetParameterCommand: 'ssm:GetParameter',
      GetSecretValueCommand: 'secretsmanager:GetSecretValue',
      SendMessageCommand: 'sqs:SendMessage',
      SendMessageBatchCommand: 'sqs:SendMessage',
      PutEventsCommand: 'events:PutEvents',
    };

    /**
     * Management API operation → the IAM action it needs. Our own management client
     * (functions/lib/delivery/management-api.ts) sends no SDK command: each of its calls names
     * its operation, `this.callOperation("PostToConnection", …)` (property names and strings
     * survive minification).
     */
    const ACTION_OF_OPERATION: Record<string, string> = {
      PostToConnection: 'execute-api:ManageConnections',
      GetConnection: 'execute-api:ManageConnections',
      DeleteConnection: 'execute-api:ManageConnections',
    };
    const operationsIn = (code: string) => [...code.matchAll(/\.callOperation\(\s*"(\w+)"/g)].map((m) => m[1]);

    /**
     * The commands and management operations the repository's own code sends, from the shipped
     * bundle and its source map (bundle-calls.ts): esbuild drops what the handler never uses, so
     * a helper's unused calls do not count, and the SDK's internal commands are not ours.
     */
    function actionsInCode(code: string, map: string): string[] {
      const commands = [...constructedByOurCode(code, map)].filter((name) => /\wCommand$/.test(name));
      return [
        ...commands.map((c) => {
          expect(ACTION_OF_COMMAND, `the code sends ${c}: add its IAM action here and grant it`).to.have.property(c);
          return ACTION_OF_COMMAND[c];
        }),
        ...[...new Set(operationsIn(code))].map((o) => {
          expect(ACTION_OF_OPERATION, `the code sends ${o}: add its IAM action here and grant it`).to.have.property(o);
          return ACTION_OF_OPERATION[o];
        }),
      ];
    }

    it('recognises every operation the management client sends, in the publish bundle', async () => {
      const { code } = await functionParts(run, 'publish');
      const operations = operationsIn(code);
      // The client's own list, the calls found in its code and the IAM map agree: an operation
      // added to the client without the recognisable call, or without an action, fails here.
      expect([...new Set(operations)].sort()).to.deep.equal([...MANAGEMENT_OPERATIONS].sort());
      expect(Object.keys(ACTION_OF_OPERATION).sort()).to.deep.equal([...MANAGEMENT_OPERATIONS].sort());
      // One call site per operation, each naming its operation in the form recognised above.
      expect(code.match(/\.callOperation\(/g), 'the publish bundle holds the management client').to.have.length(MANAGEMENT_OPERATIONS.length);
    });

    /** Granted actions, without what is not a call of the code: its logs, and SQS polling by the event source mapping. */
    async function grantedActions(r: ProgramRun, handler: string): Promise<string[]> {
      const { policy } = await functionParts(r, handler);
      const notCalls = /^(logs:(CreateLogStream|PutLogEvents)|sqs:(ReceiveMessage|DeleteMessage|GetQueueAttributes|ChangeMessageVisibility)|kms:Decrypt)$/;
      return [...new Set(statementsOf(policy.inputs.policy).flatMap((s) => asList(s.Action)))].filter((a) => !notCalls.test(a)).sort();
    }

    /**
     * Calls a bundle holds but never makes: unsubscribe bundles the presence module whole (listing,
     * forgetting) yet only leaves; test/functions/unsubscribe-presence.test.ts checks what it sends.
     */
    const NEVER_CALLED: Record<string, string[]> = { unsubscribe: ['dynamodb:BatchWriteItem', 'dynamodb:Query'] };

    // With presence topics on, every call a bundle holds is live (without them, presence's calls never run and are not granted).
    for (const handler of Object.keys(expected)) {
      it(`${handler}: grants exactly the actions of the calls its bundle makes`, async () => {
        const { code, map } = await functionParts(presenceRun, handler);
        const inCode = new Set(actionsInCode(code, map));
        const unused = NEVER_CALLED[handler] ?? [];
        expect([...inCode], 'an action listed as never called is in the bundle').to.include.members(unused);
        expect(await grantedActions(presenceRun, handler)).to.deep.equal([...inCode].filter((a) => !unused.includes(a)).sort());
      });
    }

    it('authorizer: grants one of the secret reads its bundle can make, the one configured', async () => {
      const ssm = await runProgram(AUTH_SSM);
      const { code, map } = await functionParts(ssm, 'authorizer');
      const inCode = actionsInCode(code, map);
      expect(inCode).to.have.members(['ssm:GetParameter', 'secretsmanager:GetSecretValue']);
      expect(await grantedActions(ssm, 'authorizer')).to.deep.equal(['ssm:GetParameter']);
      expect(await grantedActions(await runProgram(AUTH_SECRETS_MANAGER), 'authorizer')).to.deep.equal(['secretsmanager:GetSecretValue']);
      expect(await grantedActions(await runProgram(AUTH_JWKS), 'authorizer')).to.deep.equal([]);
    });
  });
});
