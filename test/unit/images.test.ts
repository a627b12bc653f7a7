/**
 * Each image is one recipe (images/<name>/recipe.sh): its Dockerfile only runs it, and repeats
 * what the recipe declares with `#@` lines (ENV, USER, WORKDIR, CMD), which the local builder
 * reads for the pod runtime. A Dockerfile that installs something itself, or declares another
 * user or PATH, would make the published image differ from the one the tests run.
 */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { describe, expect, it } from 'vitest';
import { recipeDeclarations } from '../../podrt/image-build';
import { REPO_ROOT } from './helpers';

const IMAGES = join(REPO_ROOT, 'images');
const withDockerfile = readdirSync(IMAGES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && readdirSync(join(IMAGES, d.name)).includes('Dockerfile'))
  .map((d) => d.name);

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
function instructions(file: string): { op: string; args: string }[] {
  return readFileSync(file, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.trim().split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

describe('GIVEN the images WHEN their Dockerfiles are read THEN each only runs its recipe and declares what the recipe declares', () => {
  it('the published images have Dockerfiles (postgres, pgpool)', () => {
    expect(withDockerfile.sort()).toEqual(['pgpool', 'postgres']);
  });

  it.each(withDockerfile)('%s: the only RUN is the recipe, copied in and removed', (name) => {
    const ins = instructions(join(IMAGES, name, 'Dockerfile'));
    expect(ins.filter((i) => i.op === 'COPY').map((i) => i.args)).toEqual(['recipe.sh /tmp/recipe.sh']);
    const runs = ins.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/^(\w+="\$\{\w+\}" )*sh \/tmp\/recipe\.sh && rm \/tmp\/recipe\.sh$/);
    expect(ins.map((i) => i.op).filter((op) => !['ARG', 'FROM', 'COPY', 'RUN', 'ENV', 'USER', 'WORKDIR', 'EXPOSE', 'CMD'].includes(op))).toEqual([]);
    expect(ins.find((i) => i.op === 'FROM')?.args).toMatch(/^debian:/);
  });

  it.each(withDockerfile)('%s: ENV, USER, WORKDIR and CMD are the recipe\'s', (name) => {
    const ins = instructions(join(IMAGES, name, 'Dockerfile'));
    // ${VAR} stays unexpanded on both sides: the same ARG feeds both.
    const declared = recipeDeclarations(readFileSync(join(IMAGES, name, 'recipe.sh'), 'utf8'));
    const env = Object.fromEntries(ins.filter((i) => i.op === 'ENV').map((i) => [i.args.slice(0, i.args.indexOf('=')), i.args.slice(i.args.indexOf('=') + 1)]));
    expect(env).toEqual(declared.env);
    expect(ins.filter((i) => i.op === 'USER').map((i) => i.args)).toEqual([`${declared.uid}:${declared.gid}`]);
    expect(ins.filter((i) => i.op === 'WORKDIR').map((i) => i.args)).toEqual([declared.workingDir]);
    expect(ins.filter((i) => i.op === 'CMD').map((i) => JSON.parse(i.args))).toEqual([declared.cmd]);
  });

  it.each(withDockerfile)('%s: every parameter the recipe requires is an ARG passed to it', (name) => {
    const recipe = readFileSync(join(IMAGES, name, 'recipe.sh'), 'utf8');
    const required = [...recipe.matchAll(/: "\$\{(\w+):\?/g)].map((m) => m[1]);
    const run = instructions(join(IMAGES, name, 'Dockerfile')).find((i) => i.op === 'RUN')!.args;
    for (const p of [...required, 'PACKAGE_SOURCE']) expect(run, p).toContain(`${p}="\${${p}}"`);
  });
});
