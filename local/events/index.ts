export { startEvents, compileRules, type EventsEndpoint, type EventsOptions, type EventsStats, type LocalRule } from './server';
export { compilePattern, PatternError } from './pattern';
export { applyInputTransformer, resolvePath } from './transform';
