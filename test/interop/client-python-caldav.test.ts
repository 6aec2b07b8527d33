/**
 * python-caldav (Debian `python3-caldav`, under /usr/bin/python3) against a real Almanac: discovery
 * through /.well-known/caldav, MKCALENDAR, recurring events with EXDATE, an overridden instance and a
 * Europe/Berlin VTIMEZONE, a todo, expanded time-range search, update, delete, and sync-collection
 * twice. The scenario asserts in Python (helpers/caldav_scenario.py) and reports its steps as JSON.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { requirePythonModule } from './helpers/tools.js';
import { run } from './helpers/run.js';

const SCRIPT = fileURLToPath(new URL('./helpers/caldav_scenario.py', import.meta.url));

interface ScenarioReport {
  ok: boolean;
  steps: { step: string }[];
  error?: string;
  trace?: string;
}

describe('python-caldav client', () => {
  let server: RunningAlmanac;

  before(async () => {
    server = await startAlmanac();
  });

  after(async () => {
    await server.stop();
  });

  it('runs the full calendar scenario', async (t) => {
    if (!requirePythonModule(t, 'caldav', 'python3-caldav')) return;
    const res = await run('/usr/bin/python3', [SCRIPT, server.url, 'alice', 'alicepw'], {
      timeoutMs: 180_000,
    });
    const last = res.stdout.trim().split('\n').at(-1) ?? '';
    let report: ScenarioReport;
    try {
      report = JSON.parse(last) as ScenarioReport;
    } catch {
      assert.fail(`no JSON report (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
    }
    const names = report.steps.map((s) => s.step);
    console.log(
      `python-caldav steps passed: ${names.join(', ')}${report.ok ? '' : ` | FAILED: ${report.error}`}`,
    );
    assert.equal(report.ok, true, `${report.error ?? ''}\n${report.trace ?? ''}`);
    assert.deepEqual(names, [
      'discovery',
      'make_calendar',
      'save',
      'search_expand',
      'search_week',
      'search_todo',
      'sync_initial',
      'update_delete',
      'sync_delta',
      'sync_again',
      'delete_calendar',
    ]);
  });
});
