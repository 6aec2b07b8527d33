/**
 * python-caldav (Debian `python3-caldav`) driving two users through CalDAV scheduling on a running
 * Almanac: addresses, an invitation found in the schedule inbox, accept and decline replies seen by
 * the organizer, free-busy through the outbox, and a cancellation. The scenario asserts in Python
 * (helpers/caldav_scheduling_scenario.py) and reports its steps as JSON.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startAlmanac, type RunningAlmanac } from '../helpers/almanac.js';
import { requirePythonModule } from './helpers/tools.js';
import { runPythonScenario } from './helpers/python-scenario.js';

const USERS = { alice: 'alicepw', bob: 'bobpw' };

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
    const names = await runPythonScenario('./caldav_scheduling_scenario.py', [
      server.url,
      USERS.alice,
      USERS.bob,
      'example.org',
    ]);
    assert.deepEqual(names, ['addresses', 'invite', 'accept', 'decline', 'freebusy', 'cancel']);
  });
});
