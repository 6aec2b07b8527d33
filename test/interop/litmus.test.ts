/**
 * litmus (the WebDAV conformance suite, Debian package `litmus`) against a real Almanac: suites basic,
 * copymove, props and http must pass without failures; locks must pass or be skipped (we do not claim
 * class 2). litmus creates `litmus/` and nested plain collections under the URL, so alice gets a
 * from_file rule that lets her create plain collections anywhere below her principal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { requireTool } from './helpers/tools.js';
import { run } from './helpers/run.js';

const LITMUS_DIR = '/usr/libexec/litmus';
const HTDOCS = '/usr/share/litmus/htdocs';

const RIGHTS = `
[root]
user: .+
collection:
permissions: R

[own]
user: .+
collection: {user}(/.*)?
permissions: RrWw
`;

interface SuiteResult {
  run: number;
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
}

/** Parses litmus' `<- summary for `x': of N tests run: P passed, F failed.` and the FAIL lines. */
export function parseLitmus(output: string): SuiteResult {
  const m = /<- summary for `[^']+': of (\d+) tests run: (\d+) passed, (\d+) failed/.exec(output);
  if (!m) throw new Error(`no litmus summary in:\n${output}`);
  const skipped = /-> (\d+) tests? (?:was|were) skipped/.exec(output);
  const failures = output
    .split('\n')
    .filter((l) => / FAIL( |$)/.test(l))
    .map((l) => l.replace(/[^\x20-\x7e]/g, '').trim());
  return {
    run: Number(m[1]),
    passed: Number(m[2]),
    failed: Number(m[3]),
    skipped: skipped ? Number(skipped[1]) : 0,
    failures,
  };
}

describe('litmus WebDAV suites', () => {
  let server: RunningAlmanac;
  let work: string;
  const summary: Record<string, SuiteResult> = {};

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'almanac-litmus-'));
    writeFileSync(join(work, 'rights'), RIGHTS);
    // litmus puts plain files into plain collections: the WebDAV class 1 that [storage] plain_files turns on.
    server = await startAlmanac({
      config: {
        rights: { type: 'from_file', file: join(work, 'rights') },
        storage: { plain_files: 'True' },
      },
    });
    // Logging in creates the principal collection /alice/.
    const r = await fetch(`${server.url}/alice/`, {
      method: 'PROPFIND',
      headers: { Authorization: `Basic ${Buffer.from('alice:alicepw').toString('base64')}`, Depth: '0' },
    });
    assert.equal(r.status, 207);
  });

  after(async () => {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
    console.log(`litmus summary: ${JSON.stringify(summary)}`);
  });

  async function suite(name: string): Promise<{ result: SuiteResult; output: string }> {
    const res = await run(
      join(LITMUS_DIR, name),
      ['--htdocs', HTDOCS, `${server.url}/alice/`, 'alice', 'alicepw'],
      {
        cwd: work, // litmus writes debug.log into the current folder
      },
    );
    const output = res.stdout + res.stderr;
    const result = parseLitmus(output);
    summary[name] = result;
    console.log(
      `litmus ${name}: ${result.passed}/${result.run} passed, ${result.failed} failed, ${result.skipped} skipped`,
    );
    return { result, output };
  }

  for (const name of ['basic', 'copymove', 'props', 'http']) {
    it(`suite ${name} passes`, async (t) => {
      if (!requireTool(t, join(LITMUS_DIR, name), 'litmus')) return;
      const { result } = await suite(name);
      assert.deepEqual(result.failures, [], `failures in ${name}`);
      assert.equal(result.failed, 0);
      assert.equal(result.skipped, 0, `${name}: no test may be skipped`);
      assert.ok(result.passed >= 3, `${name}: litmus ran its tests`);
    });
  }

  it('suite locks passes or skips (no class 2 advertised)', async (t) => {
    if (!requireTool(t, join(LITMUS_DIR, 'locks'), 'litmus')) return;
    const { result, output } = await suite('locks');
    assert.equal(result.failed, 0, output);
    assert.match(output, /server does not claim Class 2 compliance/);
  });
});
