/** The data argument of `publish`: inline JSON, `@file`, or `-` for stdin. */
import { readFile } from 'node:fs/promises';
import { CliError, describeError } from './errors';

export async function readJsonArgument(arg: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<unknown> {
  let text: string;
  let where: string;
  if (arg === '-') {
    text = await readStream(stdin);
    where = 'stdin';
  } else if (arg.startsWith('@')) {
    const file = arg.slice(1);
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${describeError(err)}`);
    }
    where = file;
  } else {
    text = arg;
    where = 'the data argument';
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
