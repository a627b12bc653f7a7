/**
 * PostgreSQL's own parameter catalog, per supported major: every parameter's name, type, unit,
 * range and enum values, read from that major's pg_settings in the image
 * (images/postgres/parameter-catalog.sh, podrt/parameter-catalog.ts) and committed as data in
 * parameter-catalog/. A user parameter is checked against it at synth time, so a typo or a value
 * PostgreSQL would refuse never reaches a pod (PostgreSQL refuses to start on either, and the
 * rollout stalls).
 */
import pg15 from './parameter-catalog/pg15.json';
import pg16 from './parameter-catalog/pg16.json';
import pg17 from './parameter-catalog/pg17.json';
import pg18 from './parameter-catalog/pg18.json';
import { closestKey } from './known-keys';
import type { PostgresMajorVersion } from './versions';

export interface ParameterSpec {
  readonly type: string;
  readonly unit?: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
}

interface Catalog {
  readonly major: number;
  readonly generatedFrom: string;
  readonly parameters: Readonly<Record<string, ParameterSpec>>;
}

const CATALOGS: Readonly<Record<PostgresMajorVersion, Catalog>> = { 15: pg15, 16: pg16, 17: pg17, 18: pg18 };

/** Lower-cased name -> spec: PostgreSQL reads parameter names case-insensitively. */
const BY_NAME = new Map<number, Map<string, ParameterSpec & { name: string }>>();
function catalogOf(major: PostgresMajorVersion): Map<string, ParameterSpec & { name: string }> {
  let map = BY_NAME.get(major);
  if (!map) {
    map = new Map(Object.entries(CATALOGS[major].parameters).map(([name, spec]) => [name.toLowerCase(), { name, ...spec }]));
    BY_NAME.set(major, map);
  }
  return map;
}

/** Where the catalog of `major` came from (a package, or why it was not regenerated). */
export function parameterCatalogSource(major: PostgresMajorVersion): string {
  return CATALOGS[major].generatedFrom;
}

/** Every parameter name of `major`'s catalog. */
export function parameterNames(major: PostgresMajorVersion): string[] {
  return [...catalogOf(major).values()].map((p) => p.name);
}

const MEMORY_UNITS: Readonly<Record<string, number>> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME_UNITS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
/** The size in bytes or milliseconds of one unit of a parameter (pg_settings.unit). */
const BASE_UNITS: Readonly<Record<string, { kind: 'memory' | 'time'; size: number }>> = {
  B: { kind: 'memory', size: 1 },
  kB: { kind: 'memory', size: 1024 },
  '8kB': { kind: 'memory', size: 8192 },
  MB: { kind: 'memory', size: 1024 ** 2 },
  us: { kind: 'time', size: 0.001 },
  ms: { kind: 'time', size: 1 },
  s: { kind: 'time', size: 1000 },
  min: { kind: 'time', size: 60_000 },
};
/** What PostgreSQL takes for a boolean, and for the boolean-like values of on/off enums. */
const BOOLEAN_WORDS = ['on', 'off', 'true', 'false', 'yes', 'no', '1', '0'];

/**
 * The value of a numeric parameter in its own unit, or a reason it is not one: a number, or a
 * string of a number with an optional unit of the parameter's kind (memory or time).
 */
function numericValue(spec: ParameterSpec, value: string | number | boolean): number | string {
  if (typeof value === 'boolean') return 'is a boolean, but the parameter takes a number';
  if (typeof value === 'number') return value;
  const match = /^\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!match) return `"${value}" is not a number${spec.unit ? ` with an optional unit` : ''}`;
  const [, number, unit] = match;
  if (!unit) return Number(number);
  const base = spec.unit ? BASE_UNITS[spec.unit] : undefined;
  if (!base) return `"${value}" has a unit, but the parameter takes a plain number`;
  const units = base.kind === 'memory' ? MEMORY_UNITS : TIME_UNITS;
  if (units[unit] === undefined) return `"${value}" has the unit "${unit}"; the parameter takes ${Object.keys(units).join(', ')} (units are case-sensitive)`;
  return (Number(number) * units[unit]) / base.size;
}

/**
 * The size in MiB that memory parameter `name` has when set to `value` on `major`, read as
 * PostgreSQL reads it (a bare number in the parameter's own unit, or a number with a memory
 * unit); undefined when unset, not a memory parameter, or not a size.
 */
export function parameterMegabytes(major: PostgresMajorVersion, name: string, value: string | number | boolean | undefined): number | undefined {
  const spec = catalogOf(major).get(name.toLowerCase());
  const base = spec?.unit ? BASE_UNITS[spec.unit] : undefined;
  if (value === undefined || !spec || base?.kind !== 'memory') return undefined;
  const n = numericValue(spec, value);
  return typeof n === 'number' ? (n * base.size) / 2 ** 20 : undefined;
}

function describeUnit(spec: ParameterSpec): string {
  return spec.unit ? ` (in ${spec.unit} without a unit)` : '';
}

/**
 * Why PostgreSQL `major` would refuse `name = value` at start, with the fix; undefined when it
 * takes it. Names with a dot (an extension's own parameters) are not in the catalog and pass.
 */
export function parameterProblem(
  major: PostgresMajorVersion,
  name: string,
  value: string | number | boolean,
): { problem: string; fix: string } | undefined {
  if (name.includes('.')) return undefined;
  const spec = catalogOf(major).get(name.toLowerCase());
  if (!spec) {
    const near = closestKey(name, parameterNames(major));
    return {
      problem: `is not a PostgreSQL ${major} parameter${near ? ` (did you mean ${near}?)` : ''}`,
      fix: `Use a name from PostgreSQL ${major}'s pg_settings${near ? `, e.g. ${near}` : ''}.`,
    };
  }
  const text = String(value).trim();
  switch (spec.type) {
    case 'bool':
      return BOOLEAN_WORDS.includes(text.toLowerCase())
        ? undefined
        : { problem: `${JSON.stringify(value)} is not a boolean`, fix: 'Use true or false (or on/off).' };
    case 'enum': {
      const values = spec.values ?? [];
      const accepted = values.includes('on') && values.includes('off') ? [...values, ...BOOLEAN_WORDS] : values;
      return accepted.includes(text.toLowerCase())
        ? undefined
        : { problem: `${JSON.stringify(value)} is not one of its values`, fix: `Use one of ${values.join(', ')}.` };
    }
    case 'integer':
    case 'real': {
      const n = numericValue(spec, value);
      if (typeof n === 'string') {
        const example = spec.unit ? (BASE_UNITS[spec.unit]?.kind === 'time' ? "'5min'" : "'64MB'") : undefined;
        return { problem: n, fix: `Give a number${describeUnit(spec)}${example ? `, or one with a unit like ${example}` : ''}.` };
      }
      const rounded = spec.type === 'integer' ? Math.round(n) : n;
      if ((spec.min !== undefined && rounded < spec.min) || (spec.max !== undefined && rounded > spec.max)) {
        return {
          problem: `${JSON.stringify(value)} is outside its range ${spec.min} to ${spec.max}${describeUnit(spec)}`,
          fix: 'Give a value in that range.',
        };
      }
      return undefined;
    }
    default:
      return undefined;
  }
}
