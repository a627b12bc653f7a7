/**
 * A certificate authority and the server certificates it signs, for the clusters' TLS Secrets
 * when neither cert-manager nor the user provides them (`npm run credentials`). ECDSA P-256 with
 * SHA-256: the cheapest handshake, which matters because Pgpool-II's health checks make one per
 * check. Generated with WebCrypto (no openssl binary needed on the user's machine).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 3600 * 1000;

/** A CA that can sign: its certificate and its private key (PEM, and parsed). */
export interface CertificateAuthority {
  readonly certificatePem: string;
  readonly certificate: x509.X509Certificate;
  readonly keyPem: string;
  readonly signingKey: webcrypto.CryptoKey;
}

/** A server certificate and its unencrypted PKCS#8 key, both PEM. */
export interface ServerCertificate {
  readonly certificatePem: string;
  readonly keyPem: string;
}

function serialNumber(): string {
  // Positive (top bit clear), 16 random bytes: unique without a registry.
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

/** A new self-signed CA valid for `days` (it signs server certificates only: path length 0). */
export async function newCertificateAuthority(commonName: string, days = 3650): Promise<CertificateAuthority> {
  const keys = await keyPair();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: new x509.Name([{ CN: [commonName] }]).toString(),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + days * DAY_MS),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certificatePem: certificate.toString('pem'), certificate, keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), signingKey: keys.privateKey };
}

/** A CA from its certificate and unencrypted PKCS#8 key (PEM), as newCertificateAuthority wrote them. */
export async function loadCertificateAuthority(certificatePem: string, keyPem: string): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(certificatePem);
  const der = x509.PemConverter.decodeFirst(keyPem);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign']);
  // The key must be the certificate's: sign with one, verify with the other.
  const probe = randomBytes(32);
  const signature = await webcrypto.subtle.sign(ALGORITHM, signingKey, probe);
  const publicKey = await certificate.publicKey.export(ALGORITHM, ['verify'], webcrypto as never);
  if (!(await webcrypto.subtle.verify(ALGORITHM, publicKey as webcrypto.CryptoKey, signature, probe))) {
    throw new Error('the CA key does not belong to the CA certificate');
  }
  return { certificatePem, certificate, keyPem, signingKey };
}

/**
 * A server certificate signed by `ca` for `dnsNames` (the first is also the common name). The
 * validity window defaults to now .. now + 397 days; tests move it to make expired ones.
 */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  dnsNames: readonly string[],
  validity: { notBefore?: Date; notAfter?: Date } = {},
): Promise<ServerCertificate> {
  if (dnsNames.length === 0) throw new Error('a server certificate needs at least one DNS name');
  const keys = await keyPair();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: new x509.Name([{ CN: [dnsNames[0].slice(0, 64)] }]).toString(),
    issuer: ca.certificate.subject,
    notBefore: validity.notBefore ?? new Date(now - 60_000),
    notAfter: validity.notAfter ?? new Date(now + 397 * DAY_MS),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey);
  return { certificatePem: certificate.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}
