/**
 * Methods are registered by plugins (DavPlugin.methods), POST by target (DavPlugin.postTargets): what
 * is served, what OPTIONS and a 405 list, and which handler a request reaches.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { combinePlugins, type Access, type DavPlugin, type DavRequest } from '../../src/dav/context.js';
import { CORE_PLUGIN } from '../../src/dav/core-plugin.js';
import { handleDav } from '../../src/dav/handle.js';
import { DavError } from '../../src/dav/errors.js';
import { createPlugins, pluginSettings } from '../../src/cli/start.js';
import { testConfig } from '../helpers/config.js';

const STANDARD =
  'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, REPORT, MOVE, COPY, MKCALENDAR';

/** A request with just what the dispatch looks at; `letters` are the user's rights on every path. */
function request(
  plugins: ReturnType<typeof createPlugins>,
  method: string,
  segments: string[],
  letters: string,
) {
  const access: Pick<Access, 'letters'> = { letters: () => letters };
  return { method, segments, plugins, access, headers: {}, header: () => undefined } as unknown as DavRequest;
}

const answer =
  (text: string) => (): Promise<{ status: number; headers: Record<string, string>; body: string }> =>
    Promise.resolve({ status: 200, headers: {}, body: text });

const ANY = { handler: answer('any') };

const FEATURE: DavPlugin = {
  postTargets: [
    { name: 'api', matches: (r) => r.segments[0] === '.api', ownRightsCheck: true, handle: answer('api') },
    { name: 'outbox', matches: (r) => r.segments.at(-1) === 'outbox', handle: answer('outbox') },
  ],
};

describe('method registration', () => {
  it('serves the core methods and CalDAV MKCALENDAR; POST only once a target is registered', () => {
    const plugins = createPlugins(pluginSettings(testConfig()));
    assert.equal(plugins.methods().join(', '), STANDARD);
    assert.ok(plugins.method('MKCALENDAR'));
    assert.equal(plugins.method('POST'), undefined);
    assert.equal(combinePlugins([CORE_PLUGIN]).method('MKCALENDAR'), undefined);
    const withPost = combinePlugins([CORE_PLUGIN, FEATURE]);
    assert.ok(withPost.methods().includes('POST'));
    assert.deepEqual(
      withPost.postTargets().map((t) => t.name),
      ['api', 'outbox'],
    );
  });

  it('refuses a method or a POST target registered twice, and lower-case names', () => {
    assert.throws(() => combinePlugins([CORE_PLUGIN, { methods: { PUT: ANY } }]), /PUT/);
    assert.throws(() => combinePlugins([CORE_PLUGIN, FEATURE, FEATURE]), /api/);
    assert.throws(() => combinePlugins([{ methods: { get: ANY } }]), /upper case/);
  });

  it('gives a POST to the first target that matches, with the rights check it asks for', async () => {
    const plugins = combinePlugins([CORE_PLUGIN, FEATURE]);
    const api = await handleDav(request(plugins, 'POST', ['.api', 'v1'], ''));
    assert.equal(api.body, 'api');
    const outbox = await handleDav(request(plugins, 'POST', ['alice', 'outbox'], 'rw'));
    assert.equal(outbox.body, 'outbox');
    // No right on the path: refused before the target runs, as every other method is.
    await assert.rejects(handleDav(request(plugins, 'POST', ['bob', 'outbox'], '')), (e: unknown) => {
      assert.ok(e instanceof DavError);
      return e.status === 403;
    });
    // No target matches: 405 with the methods that are served.
    await assert.rejects(handleDav(request(plugins, 'POST', ['alice', 'cal'], 'rw')), (e: unknown) => {
      assert.ok(e instanceof DavError);
      assert.equal(e.status, 405);
      assert.ok(e.headers.Allow?.includes('POST'));
      return true;
    });
  });

  it("passes over a target whose XML roots do not hold the body's root, and parses the body once", async () => {
    const CS = '{http://calendarserver.org/ns/}';
    const plugins = combinePlugins([
      CORE_PLUGIN,
      {
        postTargets: [
          { name: 'share', xmlRoots: [`${CS}share`], matches: () => true, handle: answer('share') },
          { name: 'any-xml', matches: () => true, handle: answer('any-xml') },
        ],
      },
    ]);
    let reads = 0;
    const post = (body: string, type = 'application/xml'): DavRequest => {
      const base = request(plugins, 'POST', ['alice', 'cal'], 'rw');
      return Object.assign(base, {
        settings: { requestEncoding: 'utf-8' },
        header: (n: string) => (n === 'content-type' ? type : undefined),
        body: () => {
          reads++;
          return Promise.resolve(Buffer.from(body));
        },
      });
    };
    const share = '<CS:share xmlns:CS="http://calendarserver.org/ns/"><CS:set/></CS:share>';
    assert.equal((await handleDav(post(share))).body, 'share');
    assert.equal(
      (await handleDav(post('<P:push-register xmlns:P="https://bitfire.at/webdav-push"/>'))).body,
      'any-xml',
    );
    assert.equal((await handleDav(post('not xml', 'text/plain'))).body, 'any-xml');
    assert.equal((await handleDav(post(''))).body, 'any-xml');
    assert.equal(reads, 4);
  });

  it('answers OPTIONS with the registered methods', async () => {
    const r = await handleDav(request(createPlugins(pluginSettings(testConfig())), 'OPTIONS', [], ''));
    assert.equal(r.headers.Allow, STANDARD);
  });
});
