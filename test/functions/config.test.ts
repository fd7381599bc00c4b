import { expect } from 'chai';
import { ENV, METRICS_NAMESPACE } from '../../protocol/env';
import { DEFAULTS, MAX_MESSAGE_BYTES } from '../../protocol/limits';
import { loadConfig } from '../../functions/lib/config';
import { makeHandler as makePublish } from '../../functions/handlers/publish';
import { makeHandler as makeConnect } from '../../functions/handlers/connect';

describe('functions config', () => {
  it('takes the shared defaults when variables are unset or blank', () => {
    const c = loadConfig({ [ENV.tableName]: 't', [ENV.publishConcurrency]: '  ' });
    expect(c.publishConcurrency).to.equal(DEFAULTS.publishConcurrency);
    expect(c.maxSubscriptionsPerConnection).to.equal(DEFAULTS.maxSubscriptionsPerConnection);
    expect(c.maxTopicLength).to.equal(DEFAULTS.maxTopicLength);
    expect(c.postConnectTimeoutMs).to.equal(DEFAULTS.postConnectTimeoutMs);
    expect(c.postRequestTimeoutMs).to.equal(DEFAULTS.postRequestTimeoutMs);
    expect(c.postMaxAttempts).to.equal(DEFAULTS.postMaxAttempts);
    expect(c.maxFrameBytes).to.equal(MAX_MESSAGE_BYTES);
    expect(c.metricsNamespace).to.equal(METRICS_NAMESPACE);
    expect(c.logLevel).to.equal('INFO');
    expect(c.aws.credentials).to.equal(undefined);
  });

  it('reads every value from the env map, never above 128 KB per frame', () => {
    const c = loadConfig({
      [ENV.publishConcurrency]: '7',
      [ENV.maxPublishBytes]: String(10 * MAX_MESSAGE_BYTES),
      [ENV.logLevel]: 'debug',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4567',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    expect(c.publishConcurrency).to.equal(7);
    expect(c.maxFrameBytes).to.equal(MAX_MESSAGE_BYTES);
    expect(c.logLevel).to.equal('DEBUG');
    expect(c.aws.dynamodbEndpoint).to.equal('http://127.0.0.1:4567');
    expect(c.aws.credentials).to.deep.equal({ accessKeyId: 'local', secretAccessKey: 'local' });
    expect(loadConfig({ [ENV.maxPublishBytes]: '1000' }).maxFrameBytes).to.equal(1000);
  });

  it('fails with a message naming each bad variable and its value', () => {
    expect(() => loadConfig({ [ENV.publishConcurrency]: 'lots', [ENV.postMaxAttempts]: '0' })).to.throw(
      /Invalid configuration: PUBLISH_CONCURRENCY must be a whole number \(got "lots"\); POST_MAX_ATTEMPTS must be at least 1 \(got "0"\)/,
    );
    expect(() => loadConfig({ [ENV.managementEndpoint]: 'not a url' })).to.throw(/MANAGEMENT_ENDPOINT must be an absolute URL/);
    expect(() => loadConfig({ [ENV.logLevel]: 'LOUD' })).to.throw(/POWERTOOLS_LOG_LEVEL must be one of/);
  });

  it('makeHandler refuses to build without the variables a handler needs', () => {
    expect(() => makeConnect({})).to.throw(/TABLE_NAME is required/);
    expect(() => makePublish({ [ENV.tableName]: 't' })).to.throw(/MANAGEMENT_ENDPOINT is required/);
  });
});
