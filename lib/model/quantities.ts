import { isIP } from 'net';

/**
 * Syntax checks for the Kubernetes value formats the props accept. They mirror the API
 * server's own rules, so a bad value fails at synth time instead of at `kubectl apply`.
 */

/** A Kubernetes resource quantity: `500m`, `1.5`, `10Gi`, `1e3`. */
const QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/;

export function isQuantity(value: string): boolean {
  return QUANTITY.test(value);
}

/** Memory and storage sizes must be whole bytes: no milli-units. */
export function isByteQuantity(value: string): boolean {
  return isQuantity(value) && !value.endsWith('m');
}

/** DNS-1123 subdomain (ConfigMap, Secret, StorageClass names). */
export function isDnsSubdomain(value: string): boolean {
  return (
    value.length <= 253 &&
    value.split('.').every((part) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(part))
  );
}

/** A label or annotation key: optional DNS-subdomain prefix, then a 63-char name. */
export function isQualifiedName(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !isDnsSubdomain(prefix)) {
    return false;
  }
  return name.length > 0 && name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
}

/** A label value: empty, or up to 63 alphanumerics with `-_.` inside. */
export function isLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(value));
}

/** An IPv4 or IPv6 CIDR such as `10.0.0.0/8` or `fd00::/8` (PostgreSQL refuses anything else). */
export function isCidr(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  if (rest.length > 0 || bits === undefined || !/^\d{1,3}$/.test(bits)) {
    return false;
  }
  const family = isIP(address);
  return family !== 0 && Number(bits) <= (family === 4 ? 32 : 128);
}

const SUFFIX_FACTOR: Record<string, number> = {
  m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The numeric value of a quantity that passed {@link isQuantity} (cores or bytes). */
export function parseQuantity(value: string): number {
  const match = /^[+]?([\d.]+)([eE][+-]?\d+|[a-zA-Z]+)?$/.exec(value);
  if (!match) {
    throw new Error(`not a quantity: ${value}`);
  }
  const [, number, suffix] = match;
  if (suffix === undefined) {
    return Number(number);
  }
  if (/^[eE]/.test(suffix)) {
    return Number(`${number}${suffix}`);
  }
  return Number(number) * SUFFIX_FACTOR[suffix];
}

/**
 * A container image reference: `[registry/]path[:tag][@sha256:digest]`, lower-case path, no
 * spaces. Loose on purpose: the registry decides the rest.
 */
export function isImageReference(value: string): boolean {
  return /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/.test(
    value,
  );
}

/**
 * Whether an image reference pins what it pulls: a tag on its last path component
 * (`repo:1.2`, not a registry port like `host:5000/repo`) or a digest. Without either, the
 * container runtime pulls `:latest`, which changes under a running cluster.
 */
export function hasTagOrDigest(value: string): boolean {
  return value.includes('@sha256:') || value.slice(value.lastIndexOf('/') + 1).includes(':');
}
