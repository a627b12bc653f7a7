/**
 * Reading the pods' logs: the entrypoint's decision lines. Pure functions of the log text, so the
 * unit suite checks them against the lines the scripts write.
 */

/** The entrypoint's decision lines: what it chose and why (lib/scripts/README.md). */
export const DECISION_LINE = / entrypoint: (role|rejoin|clone|re-clone|promote|register|fence|handoff|follow|scale-down|SIGTERM)/;

export function decisions(log: string): string {
  return log
    .split('\n')
    .filter((l) => DECISION_LINE.test(l))
    .join('\n');
}
