/**
 * The one error type every validation rule throws, so a user (and a test) can tell a bad prop
 * apart from a bug. The message always names the prop path and says how to fix it.
 */
export class PostgresClusterConfigError extends Error {
  public readonly prop: string;

  constructor(prop: string, problem: string, fix: string) {
    super(`${prop}: ${problem}. ${fix}`);
    this.name = 'PostgresClusterConfigError';
    this.prop = prop;
  }
}

/** Throws a {@link PostgresClusterConfigError} unless `condition` holds. */
export function check(condition: boolean, prop: string, problem: string, fix: string): asserts condition {
  if (!condition) {
    throw new PostgresClusterConfigError(prop, problem, fix);
  }
}
