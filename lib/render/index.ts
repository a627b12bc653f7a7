export * from './conf-format';
export * from './paths';
export * from './postgresql-conf';
export * from './pg-hba-conf';
export * from './repmgr-conf';
export * from './pgpool-conf';
export * from './pool-hba-conf';
