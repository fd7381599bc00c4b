/**
 * Powertools Logger (structured JSON) and Metrics (CloudWatch EMF), configured from the env map.
 * Keys such as connectionId, topic and messageId go on each log call rather than on the shared
 * logger, because the local mode may run one handler for several events at once.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Config } from './config';

export { MetricUnit };

export interface Telemetry {
  logger: Logger;
  metrics: Metrics;
  /** Tag logs with the Lambda context (function name, request id) when there is a real one. */
  addContext(context: unknown): void;
  /** Emit the invocation's metrics (or drop them when metrics are disabled). */
  flushMetrics(): void;
}

export function makeTelemetry(config: Config): Telemetry {
  const logger = new Logger({ serviceName: config.serviceName, logLevel: config.logLevel });
  const metrics = new Metrics({ namespace: config.metricsNamespace, serviceName: config.serviceName });
  return {
    logger,
    metrics,
    addContext(context) {
      const c = context as Partial<Context> | undefined;
      if (c && typeof c.awsRequestId === 'string' && typeof c.functionName === 'string') logger.addContext(c as Context);
    },
    flushMetrics() {
      if (config.metricsDisabled) metrics.clearMetrics();
      else if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}

/** A short, loggable description of any thrown value. */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: typeof error, message: String(error) };
}
