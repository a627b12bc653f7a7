/**
 * The `key = value` format shared by postgresql.conf, repmgr.conf and pgpool.conf. Strings are
 * single-quoted with quotes doubled; numbers and booleans are bare. One helper so quoting is
 * right everywhere (a stray quote in a value must never end the string early).
 */
export type ConfValue = string | number | boolean;

/** Quotes a string as a conf-file literal: `it's` -> `'it''s'`. */
export function quoteConfString(value: string): string {
  if (/[\n\r\0]/.test(value)) {
    throw new Error(`conf values must be one line: ${JSON.stringify(value)}`);
  }
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export function formatConfValue(value: ConfValue): string {
  if (typeof value === 'boolean') {
    return value ? 'on' : 'off';
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new Error(`conf values must be finite numbers: ${value}`);
    }
    return String(value);
  }
  return quoteConfString(value);
}

/** A titled group of settings, rendered as a comment line followed by `key = value` lines. */
export interface ConfSection {
  readonly title: string;
  readonly settings: ReadonlyArray<readonly [string, ConfValue]>;
}

/** Renders sections with a header comment; the output always ends with a newline. */
export function renderConf(header: readonly string[], sections: readonly ConfSection[]): string {
  const lines = header.map((l) => `# ${l}`);
  for (const section of sections) {
    if (section.settings.length === 0) {
      continue;
    }
    lines.push('', `# ${section.title}`);
    for (const [key, value] of section.settings) {
      lines.push(`${key} = ${formatConfValue(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
