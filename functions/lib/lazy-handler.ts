/**
 * The Lambda entry point of a handler module: built from process.env on the first invocation
 * and reused for the life of the container. Building lazily keeps `import` side-effect free, so
 * tests and the local mode can import `makeHandler` without a Lambda environment.
 */
export function lambdaEntry<E, C, R>(build: () => (event: E, context: C) => Promise<R>): (event: E, context: C) => Promise<R> {
  let built: ((event: E, context: C) => Promise<R>) | undefined;
  return (event, context) => {
    built ??= build();
    return built(event, context);
  };
}
