export * from './errors';
export * from './managed-parameters';
export * from './names';
export * from './props';
export * from './quantities';
export * from './resolve-cluster';
export * from './resolved';
export * from './versions';
