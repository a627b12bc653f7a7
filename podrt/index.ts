/** podrt, the local pod runtime: its public API (tests, benchmarks). See podrt/README.md. */
export { PodRuntime, loadManifests, parseSelector } from './client';
export type { StartOptions, ApplyResult, ExecResult, PortForwardHandle } from './client';
export { cleanupInstance, leftovers, listInstances } from './cleanup';
export { IMPLEMENTED, unimplementedFields } from './fields';
export { profileFor, imageRepository, discoverPostgres } from './profiles';
export { expandVars } from './container-env';
export { stateDir } from './util';
