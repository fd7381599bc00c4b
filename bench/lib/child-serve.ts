/**
 * The child side of bench/lib/child.ts: answers each `{seq, op, args}` request from the parent by
 * running that operation, with its result or its error's stack; says it is ready; exits when the
 * parent goes away (a benchmark ends by exiting, or its test stops the child: nothing to finish).
 */
export interface ChildRequest<Op extends string = string> {
  seq: number;
  op: Op;
  args: unknown[];
}

export function serveOperations(operations: Record<string, (...args: never[]) => unknown>): void {
  process.on('message', async (request: ChildRequest) => {
    try {
      const op = operations[request.op] as ((...args: unknown[]) => unknown) | undefined;
      if (!op) throw new Error(`unknown operation ${String(request.op)}`);
      process.send?.({ seq: request.seq, result: await op(...request.args) });
    } catch (error) {
      process.send?.({ seq: request.seq, error: (error as Error).stack ?? String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ ready: true });
}
