import { expect } from 'chai';
import { errorReplySchema } from '../../protocol/messages';
import { makeHandler } from '../../functions/handlers/default';
import { messageEvent, testEnv } from './helpers';

describe('$default handler', () => {
  const handler = makeHandler(testEnv());
  const reply = async (body: string | undefined) => {
    const result = await handler(messageEvent('c1', body, '$default'));
    expect(result.statusCode).to.equal(200);
    return errorReplySchema.parse(JSON.parse(result.body));
  };

  it('answers BAD_REQUEST to anything that is not a JSON object', async () => {
    for (const body of ['not json', '{"action":', '[1,2]', '42', '"subscribe"', 'null', '', undefined]) {
      const r = await reply(body);
      expect(r.code, String(body)).to.equal('BAD_REQUEST');
    }
    expect((await reply('{oops')).message).to.match(/not valid JSON/);
  });

  it('answers UNKNOWN_ACTION to a JSON object with an unknown or missing action, naming the known ones', async () => {
    const unknown = await reply('{"action":"shout","topics":["a"]}');
    expect(unknown.code).to.equal('UNKNOWN_ACTION');
    expect(unknown.message).to.contain('"shout"').and.contain('subscribe').and.contain('unsubscribe').and.contain('ping');
    const missing = await reply('{"topics":["a"]}');
    expect(missing.code).to.equal('UNKNOWN_ACTION');
    expect(missing.message).to.match(/no "action"/);
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', '$default', '$connect']) {
      const r = await reply(JSON.stringify({ action: name }));
      expect(r.code, name).to.equal('UNKNOWN_ACTION');
      expect(r.message, name).to.contain(JSON.stringify(name));
    }
  });

  it('answers BAD_REQUEST to an action that is not a string, however deeply it nests', async () => {
    for (const body of ['{"action":7}', '{"action":null}', '{"action":true}', '{"action":["subscribe"]}', '{"action":{"a":1}}']) {
      const r = await reply(body);
      expect(r.code, body).to.equal('BAD_REQUEST');
      expect(r.message, body).to.match(/"action" must be a string, not (a number|null|a boolean|an array|an object)/);
    }
    const deepArray = `{"action":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const deepObject = `{"action":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    for (const body of [deepArray, deepObject]) expect((await reply(body)).code).to.equal('BAD_REQUEST');
  });

  it('never repeats more than 16 characters of what the client sent', async () => {
    const unknown = await reply(JSON.stringify({ action: 'SECRET-abcdefghij-klmnop' }));
    expect(unknown.message).to.contain('"SECRET-abcdefghi"…').and.not.contain('SECRET-abcdefghij');
    const bad = await reply('SECRET-abcdefghij is not JSON');
    expect(bad.code).to.equal('BAD_REQUEST');
    expect(bad.message).to.equal('the message is not valid JSON').and.not.contain('SECRET');
    expect((await reply('{"action":"SECRET",}')).message).to.equal('the message is not valid JSON (at position 19)');
  });

  it('answers PAYLOAD_TOO_LARGE to a message over 128 KB and BAD_REQUEST to binary frames', async () => {
    expect((await reply(JSON.stringify({ action: 'x', pad: 'x'.repeat(130 * 1024) }))).code).to.equal('PAYLOAD_TOO_LARGE');
    const binary = await handler({ ...messageEvent('c1', 'AAEC', '$default'), isBase64Encoded: true });
    expect(JSON.parse(binary.body).code).to.equal('BAD_REQUEST');
  });
});
