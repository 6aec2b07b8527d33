/**
 * python-caldav (Debian `python3-caldav`, under /usr/bin/python3) against a real Almanac: discovery
 * through /.well-known/caldav, MKCALENDAR, recurring events with EXDATE, an overridden instance and a
 * Europe/Berlin VTIMEZONE, a todo, expanded time-range search, update, delete, and sync-collection
 * twice. The scenario asserts in Python (helpers/caldav_scenario.py) and reports its steps as JSON.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { requirePythonModule } from './helpers/tools.js';
import { runPythonScenario } from './helpers/python-scenario.js';

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
    const names = await runPythonScenario('./caldav_scenario.py', [server.url, 'alice', 'alicepw']);
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
