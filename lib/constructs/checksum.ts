import { createHash } from 'crypto';

/**
 * A stable sha256 of the ConfigMap data a pod consumes. Keys are sorted so that the same data
 * always gives the same checksum, whatever order it was built in.
 */
export function configChecksum(...configMaps: ReadonlyArray<Readonly<Record<string, string>>>): string {
  const hash = createHash('sha256');
  for (const data of configMaps) {
    for (const key of Object.keys(data).sort()) {
      hash.update(key).update('\0').update(data[key]).update('\0');
    }
    hash.update('\x01');
  }
  return hash.digest('hex');
}
