// `type` values that are not built-in: Radicale loads any of them as a Python module at start. Almanac
// loads JavaScript modules, and says clearly what cannot run instead of using something else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAuth } from '../../src/auth/create.js';
import { memoryLogger } from '../helpers/logger.js';
import { testConfig } from '../helpers/config.js';
import { closestBuiltin } from '../../src/config/plugin.js';
import { createRights } from '../../src/rights/create.js';
import { storageSettings } from '../../src/storage/create.js';
import { createWeb } from '../../src/web/serve.js';

describe('plugin types', () => {
  it('a Radicale (Python) auth plugin stops the start with a message that says why', async () => {
    const { log } = memoryLogger();
    await assert.rejects(
      createAuth(testConfig({ auth: { type: 'radicale_imap' } }), log),
      /^PluginError: \[auth\] type = radicale_imap: cannot load the plugin module \(no such module\)\. Almanac's built-in types are: none, denyall, htpasswd, .*A Radicale plugin is a Python module and cannot run in Almanac\.$/,
    );
  });

  it('a misspelt built-in type is named with the type it probably meant', async () => {
    const { log } = memoryLogger();
    await assert.rejects(
      createAuth(testConfig({ auth: { type: 'htpaswd' } }), log),
      /\[auth\] type = htpaswd: cannot load the plugin module \(no such module\)\. Did you mean 'htpasswd'\?/,
    );
    await assert.rejects(
      createRights(testConfig({ rights: { type: 'owner-only' } }), log),
      /Did you mean 'owner_only'\?/,
    );
    assert.equal(closestBuiltin('auth', 'radicale_imap'), undefined);
  });

  it('a storage type Almanac does not have is a start-up error (no storage plugins)', () => {
    assert.throws(
      () => storageSettings(testConfig({ storage: { type: 'multifilesystem_nolok' } })),
      /\[storage\] type = multifilesystem_nolok: not a storage type Almanac has \(did you mean 'multifilesystem_nolock'\?\); its storage types are: multifilesystem, multifilesystem_nolock, postgresql\. A Radicale storage type plugin is a Python module/,
    );
  });

  it('a web plugin is not replaced by the built-in interface: /.web answers 501 saying why', async () => {
    const web = createWeb({ web: { type: 'radicale_infcloud' }, auth: { type: 'htpasswd' } });
    for (const path of ['/', '/index.html', '/js/main.js']) {
      const r = await web.handle({ method: 'GET', headers: {} }, path, '');
      assert.equal(r.status, 501, path);
      assert.match(
        r.body?.toString('utf8') ?? '',
        /\[web\] type = radicale_infcloud names a web interface plugin; .*cannot run in Almanac/,
      );
    }
  });
});
