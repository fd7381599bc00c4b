/**
 * Pulumi's mocks do not run `transforms` (the engine does, and the mock monitor stands in for the
 * engine: pulumi/pulumi#17090; @pulumi/pulumi 3.245 even refuses to register them under mocks).
 * This teaches the mock monitor the one thing the tests need from the engine: before a resource
 * is registered, run the transforms of the resource and of each of its ancestors, nearest first,
 * through the program's own callback server, and register the properties they return. A transform's
 * changes to resource options are not modelled (the mocks have no options to apply them to).
 * Built on the SDK's wire types (RegisterResourceRequest, TransformRequest, Callback), so a
 * change in them shows up here as a failure rather than as transforms silently skipped.
 */
import * as pulumi from '@pulumi/pulumi';

// The SDK's runtime internals and wire types have no typed entry point.
const resproto = require('@pulumi/pulumi/proto/resource_pb');
const callbackproto = require('@pulumi/pulumi/proto/callback_pb');
const settings = require('@pulumi/pulumi/runtime/settings');
const state = require('@pulumi/pulumi/runtime/state');

interface CallbackRef {
  getToken(): string;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getObject(): unknown;
  setObject(value: unknown): void;
  getTransformsList(): CallbackRef[];
}

interface CallbackServer {
  invoke(call: { request: unknown }, done: (error: Error | null, response?: { getResponse_asU8(): Uint8Array }) => void): Promise<void>;
}

type RegisterResource = (req: RegisterRequest, done: (error: unknown, response?: { getUrn(): string }) => void) => Promise<void>;

/** Call once after `pulumi.runtime.setMocks`: from then on the mock monitor runs transforms. */
export function runTransformsLikeTheEngine(): void {
  state.getStore().supportsTransforms = true;
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: RegisterResource };
  const register = monitor.registerResource.bind(monitor);
  /** Each registered resource's transforms and its ancestors', nearest first. */
  const chains = new Map<string, CallbackRef[]>();

  monitor.registerResource = async (req, done) => {
    const chain = [...req.getTransformsList(), ...(chains.get(req.getParent()) ?? [])];
    try {
      for (const callback of chain) await transform(req, callback);
    } catch (error) {
      done(error);
      return;
    }
    await register(req, (error, response) => {
      if (!error && response) chains.set(response.getUrn(), chain);
      done(error, response);
    });
  };
}

/** Run one transform on the request's properties, as the engine would, and keep its result. */
async function transform(req: RegisterRequest, callback: CallbackRef): Promise<void> {
  const request = new resproto.TransformRequest();
  request.setType(req.getType());
  request.setName(req.getName());
  request.setCustom(req.getCustom());
  request.setParent(req.getParent());
  request.setProperties(req.getObject());
  request.setOptions(new resproto.TransformResourceOptions());
  const invoke = new callbackproto.CallbackInvokeRequest();
  invoke.setToken(callback.getToken());
  invoke.setRequest(request.serializeBinary());

  const server = settings.getCallbacks() as CallbackServer;
  const bytes = await new Promise<Uint8Array>((resolve, reject) => {
    void server.invoke({ request: invoke }, (error, response) => (error || !response ? reject(error ?? new Error('no response')) : resolve(response.getResponse_asU8())));
  });
  const response = resproto.TransformResponse.deserializeBinary(bytes);
  const properties = response.getProperties();
  if (properties) req.setObject(properties);
}
