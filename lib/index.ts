// Public API: re-exports only. One concept per file, in three layers:
//   model/      typed props, validation, the resolved model
//   render/     pure renderers: resolved model -> config file text
//   constructs/ cdk8s constructs wiring the rendered config into Kubernetes objects
export * from './model';
export * from './render';
export * from './constructs';
