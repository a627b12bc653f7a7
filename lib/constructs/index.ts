export * from './checksum';
export * from './labels';
export * from './scripts-config-map';
export * from './pgpool-deployment';
export * from './pod-spec';
export * from './postgres-cluster';
export * from './postgres-tier';
export * from './scripts';
