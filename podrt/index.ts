/** podrt, the local pod runtime: its public API (tests, benchmarks). See podrt/README.md. */
export { PodRuntime, loadManifests, parseSelector } from './client';
export type { StartOptions, ApplyResult, ExecResult, PortForwardHandle } from './client';
export { cleanupInstance, leftovers, listInstances } from './cleanup';
export { IMPLEMENTED, unimplementedFields } from './fields';
export { resolveImage, parseReference, SUITES, versionSet } from './image-catalog';
export type { DebianSuite, ImageSource, Recipe } from './image-catalog';
export { ensureImage, cachedImage, recipeDeclarations, recipePath } from './image-build';
export type { BuiltImage, ImageConfig } from './image-build';
export { expandVars } from './container-env';
export { stateDir } from './util';
