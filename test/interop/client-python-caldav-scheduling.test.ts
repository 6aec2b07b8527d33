/**
 * python-caldav (Debian `python3-caldav`) driving two users through CalDAV scheduling on a running
 * Almanac: addresses, an invitation found in the schedule inbox, accept and decline replies seen by
 * the organizer, free-busy through the outbox, and a cancellation. The scenario asserts in Python
 * (helpers/caldav_scheduling_scenario.py) and reports its steps as JSON.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { requirePythonModule } from './helpers/tools.js';
import { run } from './helpers/run.js';

const SCRIPT = fileURLToPath(new URL('./helpers/caldav_scheduling_scenario.py', import.meta.url));
const USERS = { alice: 'alicepw', bob: 'bobpw' };

interface ScenarioReport {
  ok: boolean;
  steps: { step: string }[];
  error?: string;
  trace?: string;
}

describe('python-caldav scheduling between two users', () => {
  let server: RunningAlmanac;

  before(async () => {
    server = await startAlmanac({
      users: USERS,
      config: { scheduling: { enabled: 'True', email_domain: 'example.org' } },
    });
  });

  after(async () => {
    await server.stop();
  });

  it('invites, accepts, declines, asks free-busy and cancels', async (t) => {
    if (!requirePythonModule(t, 'caldav', 'python3-caldav')) return;
    const res = await run('/usr/bin/python3', [SCRIPT, server.url, USERS.alice, USERS.bob, 'example.org'], {
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
      `python-caldav scheduling steps passed: ${names.join(', ')}${report.ok ? '' : ` | FAILED: ${report.error}`}`,
    );
    assert.equal(report.ok, true, `${report.error ?? ''}\n${report.trace ?? ''}`);
    assert.deepEqual(names, ['addresses', 'invite', 'accept', 'decline', 'freebusy', 'cancel']);
  });
});
