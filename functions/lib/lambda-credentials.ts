/**
 * The AWS SDK's default credential chain, cut down to what a Lambda function can meet: the
 * execution role's keys, which the runtime puts in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, and, should a runtime hand them out over HTTP instead, the container
 * credentials endpoint. The Lambda bundles use this module in place of
 * `@aws-sdk/credential-provider-node` (components/bundle.ts aliases it): the full chain's
 * profiles, SSO, web identity, process and EC2 metadata providers, with their STS and SSO
 * clients, weigh about 100 KB minified per bundle and never run in Lambda. The tests and the
 * local mode import the SDK unchanged and keep the full chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import { memoize } from '@smithy/core/config';

type Credentials = Awaited<ReturnType<ReturnType<typeof fromEnv>>>;

/** What the SDK clients pass the default provider (their whole config); only the logger is read. */
export type ProviderInit = Parameters<typeof fromEnv>[0];

/** The SDK chain's rule: credentials that expire are fetched again 5 minutes before they do. */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;

const hasEnvKeys = () => Boolean(process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY);
const hasContainerUri = () => Boolean(process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI);

/**
 * Same name and signature as `@aws-sdk/credential-provider-node`'s export, which the SDK clients
 * import. Environment keys first, as in the SDK's chain; with neither source set, fromEnv's own
 * error ("Unable to find environment variable credentials."). Memoized like the SDK's chain (the
 * clients rely on the default provider for that): resolved once, again only near expiry.
 */
export function defaultProvider(init?: ProviderInit): () => Promise<Credentials> {
  const env = fromEnv(init);
  return memoize<Credentials>(
    () => (!hasEnvKeys() && hasContainerUri() ? fromHttp(init ?? {})() : env()),
    (credentials) => credentials.expiration !== undefined && credentials.expiration.getTime() - Date.now() < REFRESH_BEFORE_EXPIRY_MS,
    (credentials) => credentials.expiration !== undefined,
  );
}
