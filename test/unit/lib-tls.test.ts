/**
 * lib/scripts/lib-tls.sh's check_tls_files, which both entrypoints run before they start
 * anything when TLS is on: a TLS Secret that would make the server fail half-way, or make its
 * peers and clients refuse it, stops the pod at once with one log line naming the file and the
 * fix. Real openssl (the images carry it) over certificates made by the credentials command's
 * own CA code; the cluster suite starts every pod through the same check.
 */
import { execFile } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { issueServerCertificate, newCertificateAuthority, type CertificateAuthority, type ServerCertificate } from '../../lib/cli/certificates';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);
const BASE = join(REPO_ROOT, 'lib', 'scripts', 'lib-base.sh');
const LIB = join(REPO_ROOT, 'lib', 'scripts', 'lib-tls.sh');
const POD_HOST = 'orders-node-0.orders-node.shop.svc.cluster.local';
const DAY_MS = 24 * 3600 * 1000;

/** Runs check_tls_files over dir for `hosts` (then `after`); the exit code and the log lines. */
async function checkTls(dir: string | undefined, hosts: string[], after = ''): Promise<{ code: number; out: string }> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', POD_NAME: 'pod-0', TLS_CHECKED_MARKER: `${dir ?? tmpdir()}.checked` };
  if (dir !== undefined) env.PGHA_TLS_DIR = dir;
  try {
    const { stdout, stderr } = await execFileAsync('bash', ['--norc', '--noprofile', '-c', `source "${BASE}"; source "${LIB}"; check_tls_files "$@"; echo "went on"; ${after}`, 'bash', ...hosts], { env });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('check_tls_files: GIVEN the TLS Secret a pod mounts WHEN the entrypoint starts THEN a Secret that peers or clients would refuse stops it, naming the file', () => {
  let ca: CertificateAuthority;
  let other: CertificateAuthority;
  let good: ServerCertificate;
  let dir: string;
  const write = (files: Partial<Record<'tls.crt' | 'tls.key' | 'ca.crt', string>>) => {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  };

  beforeAll(async () => {
    ca = await newCertificateAuthority('test CA');
    other = await newCertificateAuthority('another CA');
    good = await issueServerCertificate(ca, ['orders-pgpool', '*.orders-node.shop.svc.cluster.local']);
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgha-tls-'));
    write({ 'tls.crt': good.certificatePem, 'tls.key': good.keyPem, 'ca.crt': ca.certificatePem });
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}.checked`, { force: true });
  });

  it('a certificate of the CA, matching its key, in date and naming the pod: the entrypoint goes on', async () => {
    const r = await checkTls(dir, [POD_HOST]);
    expect(r).toEqual({ code: 0, out: 'went on\n' });
  });

  it('WHEN the Secret is renewed after the check THEN tls_renewed says so (a builtin test, for every supervision pass), and not before', async () => {
    const renew = `tls_renewed && echo "renewed early"; sleep 0.02; printf x >>"$PGHA_TLS_DIR/tls.crt"; tls_renewed && echo "renewed"`;
    expect(await checkTls(dir, [POD_HOST], renew)).toEqual({ code: 0, out: 'went on\nrenewed\n' });
  });

  it('TLS off (no PGHA_TLS_DIR): nothing is checked', async () => {
    expect(await checkTls(undefined, [POD_HOST])).toEqual({ code: 0, out: 'went on\n' });
  });

  it.each([
    ['tls.key missing', async () => rmSync(join(dir, 'tls.key')), 'tls.key', /TLS file \S+\/tls\.key is missing, unreadable or empty: the TLS Secret needs tls\.crt, tls\.key and ca\.crt/],
    ['ca.crt empty', async () => write({ 'ca.crt': '' }), 'ca.crt', /TLS file \S+\/ca\.crt is missing, unreadable or empty/],
    ['tls.crt not a certificate', async () => write({ 'tls.crt': 'not a certificate\n' }), 'tls.crt', /TLS file \S+\/tls\.crt is not a PEM certificate/],
    [
      'the certificate expired',
      async () => write({ 'tls.crt': (await issueServerCertificate(ca, [POD_HOST], { notBefore: new Date(Date.now() - 30 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) })).certificatePem }),
      'tls.crt',
      /the certificate in \S+\/tls\.crt has expired \(.*GMT\): renew the TLS Secret/,
    ],
    [
      'a key of another certificate',
      async () => write({ 'tls.key': (await issueServerCertificate(ca, [POD_HOST])).keyPem }),
      'tls.key',
      /the key in \S+\/tls\.key does not match the certificate in \S+\/tls\.crt/,
    ],
    [
      'a certificate of another CA',
      async () => {
        const foreign = await issueServerCertificate(other, [POD_HOST]);
        write({ 'tls.crt': foreign.certificatePem, 'tls.key': foreign.keyPem });
      },
      'tls.crt',
      /the certificate in \S+\/tls\.crt is not signed by the CA in \S+\/ca\.crt: peers verify each other with ca\.crt/,
    ],
    [
      'a certificate without the pod\'s name (another namespace)',
      async () => {
        const elsewhere = await issueServerCertificate(ca, ['*.orders-node.elsewhere.svc.cluster.local']);
        write({ 'tls.crt': elsewhere.certificatePem, 'tls.key': elsewhere.keyPem });
      },
      'tls.crt',
      new RegExp(`the certificate in \\S+/tls\\.crt does not name ${POD_HOST.replace(/\./g, '\\.')}, by which clients and peers reach this pod`),
    ],
  ])('%s: exit 1, one FATAL line naming the file, nothing after it', async (_what, make, file, message) => {
    await make();
    const r = await checkTls(dir, [POD_HOST]);
    expect(r.code).toBe(1);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/FATAL: /);
    expect(lines[0]).toMatch(message);
    expect(lines[0]).toContain(`${dir}/${file}`);
  });
});
