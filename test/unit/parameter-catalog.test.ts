/**
 * The committed PostgreSQL parameter catalogs (lib/model/parameter-catalog/): each names its
 * source; 15, 17 and 18 are regenerated from the images by podrt/image-facts.test.ts, and 16,
 * which no Debian suite carries, must stay the union of its neighbours.
 */
import { readFileSync } from 'fs';
import { join } from 'path';
import { describe, expect, it } from 'vitest';
import { parameterCatalogSource, parameterNames } from '../../lib/model/parameter-catalog';
import { SUPPORTED_POSTGRES_MAJORS } from '../../lib/model/versions';
import { CATALOG_DIR, neighbourCatalog16, type ParameterCatalog } from '../../podrt/parameter-catalog';

const read = (major: number): ParameterCatalog => JSON.parse(readFileSync(join(CATALOG_DIR, `pg${major}.json`), 'utf8'));

describe('parameter catalogs: GIVEN every supported major', () => {
  it.each(SUPPORTED_POSTGRES_MAJORS)('PostgreSQL %s: its own major, over 300 parameters, and where it came from', (major) => {
    const catalog = read(major);
    expect(catalog.major).toBe(major);
    expect(parameterNames(major).length).toBeGreaterThan(300);
    expect(parameterCatalogSource(major)).toMatch(major === 16 ? /^not regenerated: PostgreSQL 16 is in no Debian suite/ : new RegExp(`^postgresql-${major} \\S+ \\(Debian \\w+\\)$`));
  });

  it('PostgreSQL 16 is exactly the union of 15 and 17 (rebuild it with `npx tsx podrt/parameter-catalog.ts pg16` after regenerating either)', () => {
    expect(read(16)).toEqual(neighbourCatalog16(read(15), read(17)));
  });
});
