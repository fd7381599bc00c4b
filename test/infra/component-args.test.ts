/**
 * RealtimePubSub's arguments as another program writes them, through the package's entry point
 * (`aws-realtime-pubsub/components`): settings are checked by the stack's rules, the settings that
 * name a resource take that resource's output, and the types refuse what the rules would
 * (checked by `npm run typecheck`: the @ts-expect-error lines fail it if they ever compile).
 */
import * as pulumi from '@pulumi/pulumi';
import { expect } from 'chai';
import { CONFIG_DEFAULTS, RealtimePubSub, resolveArgs, STACK_OUTPUT_KEYS, type RealtimePubSubArgs, type RealtimePubSubOutputs } from 'aws-realtime-pubsub/components';

/** Compile-time only: never called. */
export function typeChecks(system: RealtimePubSub): void {
  const outputs: RealtimePubSubOutputs = system.outputs;
  const url: pulumi.Output<string> = outputs.dashboardUrl;
  void url;
  const args: RealtimePubSubArgs = { alarmTopicArn: pulumi.output('arn:aws:sns:eu-west-3:123456789012:alerts'), batchSize: 10, eventRules: [] };
  void args;
  // @ts-expect-error not a setting
  const misspelt: RealtimePubSubArgs = { batchsize: 10 };
  // @ts-expect-error a number setting
  const wrongType: RealtimePubSubArgs = { batchSize: '10' };
  // @ts-expect-error not an output of the system
  void system.outputs.websocketURL;
  void misspelt;
  void wrongType;
}

describe('infra: RealtimePubSub arguments from another program', () => {
  it('applies the defaults and leaves references unset when not given', () => {
    const { config, references } = resolveArgs({});
    expect(config).to.deep.equal(CONFIG_DEFAULTS);
    expect(references).to.deep.equal({});
  });

  it('checks plain settings by the stack rules, naming every bad one', () => {
    expect(() => resolveArgs({ alarmTopicArn: 'alerts', batchSize: 0 })).to.throw(/batchSize[\s\S]*alarmTopicArn must be an ARN of sns/);
    expect(() => resolveArgs({ batchsize: 10 } as RealtimePubSubArgs)).to.throw(/realtime:batchsize is not a setting/);
    const plain = resolveArgs({ alarmTopicArn: 'arn:aws:sns:eu-west-3:123456789012:alerts' });
    expect(plain.references.alarmTopicArn).to.equal('arn:aws:sns:eu-west-3:123456789012:alerts');
    expect(plain.config.alarmTopicArn).to.equal('arn:aws:sns:eu-west-3:123456789012:alerts');
  });

  it('passes outputs of the same program through for the settings that name a resource, still enforcing the rules between settings', () => {
    const topic = pulumi.output('arn:aws:sns:eu-west-3:123456789012:alerts');
    const certificate = pulumi.output('arn:aws:acm:eu-west-3:123456789012:certificate/abc');
    const zone = pulumi.output('Z0123456789ABC');
    const { config, references } = resolveArgs({ alarmTopicArn: topic, customDomainName: 'rt.example.com', customDomainCertificateArn: certificate, customDomainZoneId: zone });
    expect(references.alarmTopicArn).to.equal(topic);
    expect(references.customDomainCertificateArn).to.equal(certificate);
    expect(references.customDomainZoneId).to.equal(zone);
    expect(config).to.include({ alarmTopicArn: '', customDomainCertificateArn: '', customDomainZoneId: '', customDomainName: 'rt.example.com' });
    // A certificate (output or not) without a domain is still refused, and so is a domain without one.
    expect(() => resolveArgs({ customDomainCertificateArn: certificate })).to.throw(/customDomainName and customDomainCertificateArn go together/);
    expect(() => resolveArgs({ customDomainName: 'rt.example.com' })).to.throw(/customDomainName and customDomainCertificateArn go together/);
  });

  it('exports the stack output keys the component fills', () => {
    expect(STACK_OUTPUT_KEYS).to.include('dashboardUrl');
  });
});
