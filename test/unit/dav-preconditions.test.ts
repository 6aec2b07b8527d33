/**
 * Each collection kind declares its items' DAV:error conditions in its own namespace, so the core's
 * PUT, MOVE and COPY answer a calendar with CalDAV's and an address book with CardDAV's.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createPlugins, pluginSettings } from '../../src/cli/start.js';
import { testConfig } from '../helpers/config.js';
import { NS, clark } from '../../src/dav/xml.js';

it('calendars declare CalDAV item conditions, address books CardDAV ones', () => {
  const plugins = createPlugins(pluginSettings(testConfig()));
  assert.deepEqual(plugins.byTag('VCALENDAR')?.preconditions, {
    maxResourceSize: clark(NS.C, 'max-resource-size'),
    noUidConflict: clark(NS.C, 'no-uid-conflict'),
  });
  assert.deepEqual(plugins.byTag('VADDRESSBOOK')?.preconditions, {
    maxResourceSize: clark(NS.CR, 'max-resource-size'),
    noUidConflict: clark(NS.CR, 'no-uid-conflict'),
  });
});
