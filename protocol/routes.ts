/**
 * The route table: one place that says which WebSocket route runs which handler.
 * The Pulumi components, the local gateway and the tests all read it from here.
 */

/** API Gateway picks a route by this expression over the JSON body of each message. */
export const ROUTE_SELECTION_EXPRESSION = '$request.body.action';

/** Every Lambda handler; each lives in `functions/handlers/<name>.ts` and exports `handler`. */
export const HANDLER_NAMES = ['connect', 'disconnect', 'subscribe', 'unsubscribe', 'default', 'relay', 'publish', 'deliver', 'authorizer'] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

export interface LambdaRoute {
  readonly routeKey: string;
  readonly handler: HandlerName;
  /** Two-way route: the Lambda's `body` goes back to the caller as the route response. */
  readonly twoWay: boolean;
}

/** Routes answered by a Lambda proxy integration. */
export const LAMBDA_ROUTES: readonly LambdaRoute[] = [
  { routeKey: '$connect', handler: 'connect', twoWay: false },
  { routeKey: '$disconnect', handler: 'disconnect', twoWay: false },
  { routeKey: 'subscribe', handler: 'subscribe', twoWay: true },
  { routeKey: 'unsubscribe', handler: 'unsubscribe', twoWay: true },
  // Client publish: checks the `publish` claim and the rate, then puts the envelope on the publish queue.
  { routeKey: 'publish', handler: 'relay', twoWay: true },
  { routeKey: '$default', handler: 'default', twoWay: true },
];

export interface MockRoute {
  readonly routeKey: string;
  /** The MOCK integration's request template: it selects the integration response by status code. */
  readonly requestTemplate: string;
  /** The integration response template: the exact text sent back to the caller. */
  readonly responseTemplate: string;
}

/** Routes answered by a MOCK integration, so heartbeats cost no Lambda invocation. */
export const MOCK_ROUTES: readonly MockRoute[] = [
  { routeKey: 'ping', requestTemplate: '{"statusCode":200}', responseTemplate: '{"type":"pong"}' },
];

/** Handlers that no route invokes directly. */
export const PUBLISH_HANDLER: HandlerName = 'publish';
/** Consumes the delivery queue: slices of big topics and retries of failed deliveries. */
export const DELIVER_HANDLER: HandlerName = 'deliver';
export const AUTHORIZER_HANDLER: HandlerName = 'authorizer';

/** Path of a handler's source, relative to the repository root. */
export function handlerSourcePath(name: HandlerName): string {
  return `functions/handlers/${name}.ts`;
}
