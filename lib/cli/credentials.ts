/**
 * Creates every Secret a synthesized output names, with random values, so `dist/` runs as is:
 *
 *   npm run credentials -- dist/ > ~/orders-credentials.yaml
 *   sudo npm run podrt -- apply -f dist/ -f ~/orders-credentials.yaml
 *
 * The Secrets go to standard output (or -o FILE), never into the directories read: the library
 * keeps passwords out of git. A Secret's keys are the ones the workloads mount from it. A TLS
 * Secret (tls.crt, tls.key, ca.crt) gets a server certificate for the names its workloads list
 * (ANNOTATION.tlsDnsNames), signed by a CA made for this run, and the CA itself goes into a
 * Secret `<TLS Secret>-ca` (tls.crt, tls.key: the layout a cert-manager CA Issuer reads) that no
 * pod mounts. Renewal keeps that CA, so clients keep verifying with the same ca.crt:
 *
 *   npm run credentials -- dist/ --renew-tls ~/orders-credentials.yaml > ~/orders-tls.yaml
 *
 * prints only the TLS Secrets, re-issued from the CA Secrets found in the earlier output.
 */
import { randomBytes } from 'crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import { join, relative, resolve } from 'path';
import * as yaml from 'js-yaml';
import { ANNOTATION } from '../model/names';
import { TLS_FILES } from '../render/paths';
import { issueServerCertificate, loadCertificateAuthority, newCertificateAuthority, type CertificateAuthority } from './certificates';

interface SecretVolume { secret?: { secretName?: string; items?: { key: string }[] } }
interface Manifest { kind?: string; metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> }; spec?: { template?: { spec?: { volumes?: SecretVolume[] } } } }

/**
 * Every Secret the workloads mount, by namespace and name, with the keys they mount and the
 * names a certificate in it must carry (from the workloads' ANNOTATION.tlsDnsNames).
 */
export function referencedSecrets(objects: readonly Manifest[]): { namespace: string; name: string; keys: string[]; dnsNames: string[] }[] {
  const found = new Map<string, { namespace: string; name: string; keys: Set<string>; dnsNames: Set<string> }>();
  for (const o of objects) {
    for (const v of o.spec?.template?.spec?.volumes ?? []) {
      const name = v.secret?.secretName;
      if (!name) continue;
      const namespace = o.metadata?.namespace ?? 'default';
      const entry = found.get(`${namespace}/${name}`) ?? { namespace, name, keys: new Set<string>(), dnsNames: new Set<string>() };
      for (const item of v.secret?.items ?? []) entry.keys.add(item.key);
      const names = o.metadata?.annotations?.[ANNOTATION.tlsDnsNames];
      if (isTlsSecret([...entry.keys]) && names) for (const n of names.split(',')) entry.dnsNames.add(n);
      found.set(`${namespace}/${name}`, entry);
    }
  }
  return [...found.values()].map((s) => ({ namespace: s.namespace, name: s.name, keys: [...s.keys].sort(), dnsNames: [...s.dnsNames] }));
}

/** Whether a Secret mounted with `keys` is a TLS Secret (tls.crt, tls.key, ca.crt). */
function isTlsSecret(keys: readonly string[]): boolean {
  return Object.values(TLS_FILES).every((k) => keys.includes(k));
}

/** The name of the Secret that holds the CA of TLS Secret `name`. */
export function caSecretName(name: string): string {
  return `${name}-ca`;
}

interface SecretManifest {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace: string };
  type: string;
  stringData: Record<string, string>;
}

const tlsSecret = (namespace: string, name: string, data: Record<string, string>): SecretManifest => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace },
  type: 'kubernetes.io/tls',
  stringData: data,
});

/**
 * The Secret manifests: one random value per password key (no quote, colon or backslash to
 * escape); for a TLS Secret, a server certificate for its names, and its CA's Secret. The CA is
 * made once per call, unless `renewFrom` (the Secrets of an earlier call) holds one for that
 * TLS Secret: then only the TLS Secrets are returned, re-issued from their CA.
 */
export async function secretManifests(objects: readonly Manifest[], renewFrom?: readonly Manifest[]): Promise<SecretManifest[]> {
  const secrets = referencedSecrets(objects);
  let fresh: CertificateAuthority | undefined;
  const out: SecretManifest[] = [];
  for (const s of secrets) {
    if (!isTlsSecret(s.keys)) {
      if (renewFrom) continue;
      out.push({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: s.name, namespace: s.namespace },
        type: 'Opaque',
        stringData: Object.fromEntries(s.keys.map((k) => [k, randomBytes(24).toString('base64url')])),
      });
      continue;
    }
    if (s.dnsNames.length === 0) throw new Error(`no workload that mounts the TLS Secret ${s.namespace}/${s.name} lists the names its certificate needs (${ANNOTATION.tlsDnsNames})`);
    let ca: CertificateAuthority;
    if (renewFrom) {
      const held = renewFrom.find((m) => m.kind === 'Secret' && m.metadata?.name === caSecretName(s.name) && (m.metadata?.namespace ?? 'default') === s.namespace) as
        | { stringData?: Record<string, string>; data?: Record<string, string> }
        | undefined;
      const field = (key: string) => held?.stringData?.[key] ?? (held?.data?.[key] !== undefined ? Buffer.from(held.data[key], 'base64').toString() : undefined);
      const certificate = field(TLS_FILES.certificate);
      const key = field(TLS_FILES.key);
      if (!certificate || !key) throw new Error(`the earlier output holds no Secret ${s.namespace}/${caSecretName(s.name)} with tls.crt and tls.key: the CA of ${s.name} cannot be kept`);
      ca = await loadCertificateAuthority(certificate, key);
    } else {
      ca = fresh ??= await newCertificateAuthority('cdk8s-pg-ha credentials CA');
      out.push(tlsSecret(s.namespace, caSecretName(s.name), { [TLS_FILES.certificate]: ca.certificatePem, [TLS_FILES.key]: ca.keyPem }));
    }
    const server = await issueServerCertificate(ca, s.dnsNames);
    out.push(tlsSecret(s.namespace, s.name, { [TLS_FILES.certificate]: server.certificatePem, [TLS_FILES.key]: server.keyPem, [TLS_FILES.ca]: ca.certificatePem }));
  }
  return out;
}

function readManifests(paths: readonly string[]): Manifest[] {
  const files = paths.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(p, f)) : [p]));
  return files.flatMap((f) => yaml.loadAll(readFileSync(f, 'utf8')) as Manifest[]).filter(Boolean);
}

/** Removes `--flag VALUE` from argv; the value, if given. */
function takeOption(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  if (i < 0) return undefined;
  const [, value] = argv.splice(i, 2);
  if (value === undefined) throw new Error(`${flag} needs a value`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const args = [...argv];
  const outArg = takeOption(args, '-o');
  const out = outArg === undefined ? undefined : resolve(outArg);
  const renew = takeOption(args, '--renew-tls');
  const inputs = args;
  if (inputs.length === 0 || inputs.some((p) => !existsSync(p)) || (renew !== undefined && !existsSync(renew))) {
    throw new Error('usage: credentials DIR|FILE ... [-o FILE] [--renew-tls EARLIER-OUTPUT]   (the synthesized output, e.g. dist/)');
  }
  if (out && inputs.some((p) => statSync(p).isDirectory() && !relative(resolve(p), out).startsWith('..'))) {
    throw new Error(`refusing to write ${out}: it is inside ${inputs.join(', ')}, and passwords never go next to the committed output`);
  }
  const secrets = await secretManifests(readManifests(inputs), renew === undefined ? undefined : readManifests([renew]));
  if (secrets.length === 0) throw new Error(`no workload in ${inputs.join(', ')} mounts a Secret`);
  const text = secrets.map((s) => yaml.dump(s)).join('---\n');
  if (out) writeFileSync(out, text, { mode: 0o600 });
  else process.stdout.write(text);
  const names = secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name} (${Object.keys(s.stringData).sort().join(', ')})`);
  process.stderr.write(`credentials: ${names.join('; ')}${out ? ` -> ${out}` : ''}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`credentials: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
