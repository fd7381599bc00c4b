/** The local API Gateway WebSocket API: see docs/gateway.md. */
export { startGateway } from './gateway';
export { ConnectRejectedError } from './types';
export type {
  CloseInfo,
  ConnectVirtualOptions,
  FaultOptions,
  Gateway,
  GatewayOptions,
  GatewayActivity,
  GatewayStats,
  LambdaLike,
  VirtualConnection,
} from './types';
export { FAULT_FLAGS, parseFaultFlags, parseRateLimit, validateFaults, type FaultFlags } from './faults';
export { lambdaContext, type LambdaContextOptions } from './lambda-context';
