// The TypeScript declarations compile, strictly, against the README's usage.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

test('wsfn.d.ts type-checks the documented usage', () => {
  const tsc = path.join(here, 'node_modules/typescript/bin/tsc');
  const args = ['--noEmit', '--strict', '--lib', 'es2022,dom', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
  const r = spawnSync(process.execPath, [tsc, ...args, path.join(here, 'types-usage.ts')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
