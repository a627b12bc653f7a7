/**
 * A change to a script rolls exactly the pods that mount it: the pod template's checksum covers
 * the scripts ConfigMap of its own workload kind only. The scripts are edited for real here (the
 * loader returns an edited copy), and the cluster synthesized again.
 */
import { describe, expect, it, vi } from 'vitest';
import { NODE_SCRIPT_FILES } from '../../lib/constructs/scripts';
import type { K8sObject } from './helpers';
import { find, synthCluster } from './helpers';

/** The script the loader hands out with an extra line, or none. */
let edited: string | undefined;

vi.mock('../../lib/constructs/scripts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../lib/constructs/scripts')>();
  return {
    ...original,
    loadScripts: (files: readonly string[]) => {
      const data = original.loadScripts(files);
      if (edited && edited in data) data[edited] += '\n# an edit\n';
      return data;
    },
  };
});

const CHECKSUM = 'pgha.cdk8s.io/config-checksum';
const checksums = () => {
  const objects = synthCluster({ cascades: [{ name: 'replica' }] });
  const of = (w: K8sObject) => w.spec.template.metadata.annotations[CHECKSUM] as string;
  return { node: of(find(objects, 'StatefulSet', 'c-node')), pgpool: of(find(objects, 'Deployment', 'c-pgpool')) };
};

describe('GIVEN a script edited WHEN the cluster is synthesized again THEN only the pods that mount it get a new checksum', () => {
  const before = (edited = undefined, checksums());

  it.each(NODE_SCRIPT_FILES.filter((f) => f.startsWith('node-')))('a node-only script (%s) rolls the PostgreSQL pods, never the Pgpool-II pods', (file) => {
    edited = file;
    const after = checksums();
    expect(after.node).not.toBe(before.node);
    expect(after.pgpool).toBe(before.pgpool);
  });

  it('the Pgpool-II entrypoint rolls the Pgpool-II pods, never the PostgreSQL pods', () => {
    edited = 'pgpool-entrypoint.sh';
    const after = checksums();
    expect(after.pgpool).not.toBe(before.pgpool);
    expect(after.node).toBe(before.node);
  });

  it.each(['lib-base.sh', 'lib-session.sh', 'status-server.pl'])('a script both pods mount (%s) rolls both', (file) => {
    edited = file;
    const after = checksums();
    expect(after.node).not.toBe(before.node);
    expect(after.pgpool).not.toBe(before.pgpool);
  });
});
