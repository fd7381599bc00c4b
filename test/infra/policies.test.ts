/** The IAM statement builders on their own (components/policies/*). */
import * as pulumi from '@pulumi/pulumi';
import { expect } from 'chai';
import { authSecretStatements, ssmParameterArn } from '../../components/policies/auth-secret';
import { checkStatement, policyDocument, type PolicyStatement } from '../../components/policies/document';
import { manageConnectionsArn, manageConnectionsStatement } from '../../components/policies/management-api';
import { TABLE_ACCESS, tableStatements } from '../../components/policies/table';
import type { HandlerName } from '../../protocol/routes';

const ARN = { partition: 'aws', region: 'ap-south-1', accountId: '111122223333', dnsSuffix: 'amazonaws.com' };
const value = <T>(o: pulumi.Input<T>) => new Promise<T>((done) => pulumi.output(o).apply((v) => done(v as T)));

describe('infra: IAM statement builders', () => {
  it('builds SSM parameter ARNs with or without a leading slash', async () => {
    expect(await value(ssmParameterArn(ARN, '/realtime/prod/secret'))).to.equal('arn:aws:ssm:ap-south-1:111122223333:parameter/realtime/prod/secret');
    expect(await value(ssmParameterArn(ARN, 'secret'))).to.equal('arn:aws:ssm:ap-south-1:111122223333:parameter/secret');
  });

  it('builds the ManageConnections ARN per method, POST only by default', async () => {
    expect(await value(manageConnectionsArn(ARN, 'abc', 'live'))).to.equal('arn:aws:execute-api:ap-south-1:111122223333:abc/live/POST/@connections/*');
    const statement = manageConnectionsStatement(ARN, 'abc', 'live', ['POST', 'DELETE']);
    expect(await value(statement.Resource)).to.deep.equal([
      'arn:aws:execute-api:ap-south-1:111122223333:abc/live/POST/@connections/*',
      'arn:aws:execute-api:ap-south-1:111122223333:abc/live/DELETE/@connections/*',
    ]);
  });

  it('grants KMS only for a customer key, and only through the service', async () => {
    expect(authSecretStatements(ARN, { kind: 'ssm-parameter', name: '/s' }).map((s) => s.Action)).to.deep.equal([['ssm:GetParameter']]);
    const withKey = authSecretStatements(ARN, { kind: 'ssm-parameter', name: '/s', kmsKeyArn: 'arn:aws:kms:ap-south-1:111122223333:key/k' });
    expect(await value(withKey[1].Condition?.StringEquals['kms:ViaService'] as pulumi.Input<string>)).to.equal('ssm.ap-south-1.amazonaws.com');
    expect(authSecretStatements(ARN, { kind: 'jwks', url: 'https://x.example/jwks' })).to.deep.equal([]);
  });

  it('gives a handler no table statement when it does not use the table, and never an empty one', () => {
    for (const handler of Object.keys(TABLE_ACCESS) as HandlerName[]) {
      for (const s of tableStatements(handler, 'arn:aws:dynamodb:ap-south-1:111122223333:table/t')) expect(s.Action, handler).to.not.be.empty;
    }
    expect(tableStatements('default', 'arn:t')).to.deep.equal([]);
    expect(tableStatements('authorizer', 'arn:t')).to.deep.equal([]);
  });

  it('refuses a statement with a "*" resource or none at all', async () => {
    expect(() => checkStatement({ Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::b/*', '*'] })).to.throw(/s3:GetObject uses "\*" as a resource/);
    expect(() => checkStatement({ Sid: 'Empty', Action: ['s3:GetObject'], Resource: [] })).to.throw(/Empty names no resource/);
    const doc: PolicyStatement = { Sid: 'Ok', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [pulumi.output('arn:aws:s3:::b/k')] };
    expect(JSON.parse(await value(policyDocument([doc])))).to.deep.equal({
      Version: '2012-10-17',
      Statement: [{ Sid: 'Ok', Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::b/k'] }],
    });
  });
});
