/**
 * The shell scripts shipped in lib/scripts: shellcheck-clean bash, loaded relative to the module
 * (not the cwd), and shipped in the npm package.
 */
import { execFile } from 'child_process';
import { existsSync, readdirSync, readFileSync } from 'fs';
import { join, resolve } from 'path';
import { promisify } from 'util';
import { describe, expect, it } from 'vitest';
import { loadScripts, NODE_SCRIPT_FILES, PGPOOL_SCRIPT_FILES, SCRIPTS_DIR } from '../../lib/constructs/scripts';
import { REPO_ROOT } from './helpers';

const execFileAsync = promisify(execFile);
const SHELLCHECK = '/usr/bin/shellcheck';
const LIB_SCRIPTS = join(REPO_ROOT, 'lib', 'scripts');

const shellScripts = () => readdirSync(LIB_SCRIPTS).filter((f) => f.endsWith('.sh')).sort();
const shippedScripts = () => readdirSync(LIB_SCRIPTS).filter((f) => f.endsWith('.sh') || f.endsWith('.pl')).sort();

describe('scripts: GIVEN lib/scripts THEN every script is clean bash', () => {
  it('shellcheck is installed (the checks below are not skipped silently)', () => {
    expect(existsSync(SHELLCHECK), `${SHELLCHECK} is missing: install shellcheck`).toBe(true);
  });

  it('every script the constructs load exists in lib/scripts', () => {
    const expected = [...new Set([...NODE_SCRIPT_FILES, ...PGPOOL_SCRIPT_FILES])].sort();
    expect(shippedScripts()).toEqual(expect.arrayContaining(expected));
  });

  it('every .sh starts with a bash shebang', () => {
    const scripts = shellScripts();
    expect(scripts.length).toBeGreaterThan(0);
    for (const file of scripts) {
      const firstLine = readFileSync(join(LIB_SCRIPTS, file), 'utf8').split('\n')[0];
      expect(firstLine, file).toMatch(/^#!(\/usr\/bin\/env bash|\/bin\/bash|\/usr\/bin\/bash)(\s|$)/);
    }
  });

  it('every .sh is shellcheck-clean (shellcheck -x, all severities)', async () => {
    const scripts = shellScripts();
    const result = await execFileAsync(SHELLCHECK, ['-x', '--format=gcc', ...scripts], { cwd: LIB_SCRIPTS, timeout: 60_000 }).then(
      () => '',
      (e: { stdout?: string; stderr?: string; message: string; code?: number | string }) => {
        if (e.code === 'ENOENT') return `shellcheck not found at ${SHELLCHECK}`;
        return `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message;
      },
    );
    expect(result).toBe('');
  }, 60_000);

  it('shellcheck really runs: it flags a known-bad script', async () => {
    const bad = '#!/bin/bash\necho $1\n';
    const child = execFileAsync(SHELLCHECK, ['-'], { timeout: 30_000 });
    child.child.stdin!.end(bad);
    await expect(child).rejects.toMatchObject({ stdout: expect.stringContaining('SC2086') });
  });
});

describe('scripts: GIVEN the pod contract THEN the scripts honour what the constructs pass them', () => {
  // failover.connectTimeoutSeconds is documented as "libpq connect_timeout for every connection
  // between nodes" and reaches every pod as PGHA_CONNECT_TIMEOUT; a literal connect_timeout in a
  // script (e.g. the conninfo repmgr stores) silently ignores the prop.
  it('no script hard-codes a libpq connect_timeout; it comes from PGHA_CONNECT_TIMEOUT', () => {
    const literal: string[] = [];
    for (const file of shellScripts()) {
      readFileSync(join(LIB_SCRIPTS, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (!line.trim().startsWith('#') && /connect_timeout=\d/.test(line)) literal.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(literal).toEqual([]);
  });

  it('every secret key a script reads is documented in the pod contract', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'pod-contract.md'), 'utf8');
    for (const file of shellScripts()) {
      const text = readFileSync(join(LIB_SCRIPTS, file), 'utf8');
      for (const m of text.matchAll(/read_secret\s+([a-z][a-z-]*)/g)) {
        expect(doc, `${file} reads secret key ${m[1]}`).toContain(`\`${m[1]}\``);
      }
    }
  });
});

describe('scripts: GIVEN the module THEN scripts load relative to it and ship in the package', () => {
  it('SCRIPTS_DIR is lib/scripts next to the constructs module, independent of the cwd', () => {
    expect(resolve(SCRIPTS_DIR)).toBe(LIB_SCRIPTS);
    const cwd = process.cwd();
    try {
      process.chdir('/');
      const data = loadScripts(NODE_SCRIPT_FILES);
      expect(Object.keys(data).sort()).toEqual([...NODE_SCRIPT_FILES].sort());
    } finally {
      process.chdir(cwd);
    }
  });

  it('loadScripts returns each file byte for byte', () => {
    const data = loadScripts(PGPOOL_SCRIPT_FILES);
    for (const file of PGPOOL_SCRIPT_FILES) expect(data[file]).toBe(readFileSync(join(LIB_SCRIPTS, file), 'utf8'));
  });

  it('GIVEN a missing script THEN loading fails loudly with its path', () => {
    expect(() => loadScripts(['no-such-script.sh'])).toThrow(/script .*lib\/scripts\/no-such-script\.sh is missing/);
  });

  it('the build copies lib/scripts next to the compiled constructs (out/scripts), and the package ships out/ (test/package runs it)', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.build).toMatch(/cp -R lib\/scripts out\/scripts/);
    expect(pkg.files).toContain('out/');
  });

  it('both pods get the base and session libraries and the probe endpoint; node helpers stay off the pgpool pods', () => {
    for (const shared of ['lib-base.sh', 'lib-session.sh', 'status-server.pl']) {
      expect(NODE_SCRIPT_FILES).toContain(shared);
      expect(PGPOOL_SCRIPT_FILES).toContain(shared);
    }
    expect(NODE_SCRIPT_FILES.filter((f) => f.startsWith('pgpool-'))).toEqual([]);
    expect(PGPOOL_SCRIPT_FILES.filter((f) => f.startsWith('node-'))).toEqual([]);
  });
});
