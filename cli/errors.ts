/** Errors the CLI reports as one line on stderr: exit 1 for failures, 2 for usage mistakes. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A short reason for any thrown value: SDK errors by name, network errors by their code. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  // fetch() wraps the network error ("fetch failed"); the cause says what really happened.
  if (err.message === 'fetch failed' && cause instanceof Error) return describeError(cause);
  const code = (err as { code?: unknown }).code;
  const message = err.message || (typeof code === 'string' ? code : '');
  const errors = (err as { errors?: unknown }).errors;
  if (!message && Array.isArray(errors) && errors[0] instanceof Error) return describeError(errors[0]);
  const generic = err.name === 'Error' || err.name === 'TypeError' || message.includes(err.name);
  return generic ? message || err.name : `${err.name}: ${message}`;
}
