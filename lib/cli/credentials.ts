/**
 * Creates every Secret a synthesized output names, with random values, so `dist/` runs as is:
 *
 *   npm run credentials -- dist/ > ~/orders-credentials.yaml
 *   sudo npm run podrt -- apply -f dist/ -f ~/orders-credentials.yaml
 *
 * The Secrets go to standard output (or -o FILE), never into the directories read: the library
 * keeps passwords out of git. A Secret's keys are the ones the workloads mount from it.
 */
import { randomBytes } from 'crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import { join, relative, resolve } from 'path';
import * as yaml from 'js-yaml';

interface SecretVolume { secret?: { secretName?: string; items?: { key: string }[] } }
interface Manifest { kind?: string; metadata?: { name?: string; namespace?: string }; spec?: { template?: { spec?: { volumes?: SecretVolume[] } } } }

/** Every Secret the workloads mount, by namespace and name, with the keys they mount. */
export function referencedSecrets(objects: readonly Manifest[]): { namespace: string; name: string; keys: string[] }[] {
  const found = new Map<string, { namespace: string; name: string; keys: Set<string> }>();
  for (const o of objects) {
    for (const v of o.spec?.template?.spec?.volumes ?? []) {
      const name = v.secret?.secretName;
      if (!name) continue;
      const namespace = o.metadata?.namespace ?? 'default';
      const entry = found.get(`${namespace}/${name}`) ?? { namespace, name, keys: new Set<string>() };
      for (const item of v.secret?.items ?? []) entry.keys.add(item.key);
      found.set(`${namespace}/${name}`, entry);
    }
  }
  return [...found.values()].map((s) => ({ namespace: s.namespace, name: s.name, keys: [...s.keys].sort() }));
}

/** The Secret manifests, one random value per key (no quote, colon or backslash to escape). */
export function secretManifests(objects: readonly Manifest[]): object[] {
  return referencedSecrets(objects).map((s) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: s.name, namespace: s.namespace },
    type: 'Opaque',
    stringData: Object.fromEntries(s.keys.map((k) => [k, randomBytes(24).toString('base64url')])),
  }));
}

function readManifests(paths: readonly string[]): Manifest[] {
  const files = paths.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(p, f)) : [p]));
  return files.flatMap((f) => yaml.loadAll(readFileSync(f, 'utf8')) as Manifest[]).filter(Boolean);
}

function main(argv: string[]): void {
  const o = argv.indexOf('-o');
  const out = o >= 0 ? resolve(argv[o + 1]) : undefined;
  const inputs = o >= 0 ? [...argv.slice(0, o), ...argv.slice(o + 2)] : argv;
  if (inputs.length === 0 || inputs.some((p) => !existsSync(p))) {
    throw new Error('usage: credentials DIR|FILE ... [-o FILE]   (the synthesized output, e.g. dist/)');
  }
  if (out && inputs.some((p) => statSync(p).isDirectory() && !relative(resolve(p), out).startsWith('..'))) {
    throw new Error(`refusing to write ${out}: it is inside ${inputs.join(', ')}, and passwords never go next to the committed output`);
  }
  const secrets = secretManifests(readManifests(inputs));
  if (secrets.length === 0) throw new Error(`no workload in ${inputs.join(', ')} mounts a Secret`);
  const text = secrets.map((s) => yaml.dump(s)).join('---\n');
  if (out) writeFileSync(out, text, { mode: 0o600 });
  else process.stdout.write(text);
  const names = referencedSecrets(readManifests(inputs)).map((s) => `${s.namespace}/${s.name} (${s.keys.join(', ')})`);
  process.stderr.write(`credentials: ${names.join('; ')}${out ? ` -> ${out}` : ''}\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`credentials: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
