// Remote password backends against protocol-level fake servers on loopback: IMAP (AUTHENTICATE PLAIN
// and the LOGIN fallback), the dovecot auth protocol over a unix socket and TCP, and the OAuth2
// password grant. (A real dovecot is exercised in test/interop/auth-dovecot.test.ts when installed.)
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findExecutable } from '../../src/auth/backends/pam.js';
import { parseImapHost } from '../../src/auth/backends/imap.js';
import { escapeFilterValue, firstRdnValue, formatFilter } from '../../src/auth/backends/ldap-text.js';
import { createAuth } from '../../src/auth/create.js';
import { memoryLogger } from '../helpers/logger.js';
import { testConfig, type ConfigOverrides } from '../helpers/config.js';
import type { Auth } from '../../src/auth/types.js';

const USERS: Record<string, string> = { alice: 'alicepw', 'bob@example.org': 'pässwörd€' };

function lineServer(
  onConnect: (socket: Socket, send: (l: string) => void) => (line: string) => void,
): Server {
  return createServer((socket) => {
    socket.setEncoding('utf8');
    const send = (l: string) => socket.write(l);
    const onLine = onConnect(socket, send);
    let buf = '';
    socket.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        onLine(line);
      }
    });
    socket.on('error', () => undefined);
  });
}

function plainDecode(b64: string): [string, string] {
  const parts = Buffer.from(b64, 'base64').toString('utf8').split('\0');
  return [parts[1] ?? '', parts[2] ?? ''];
}

/** A fake IMAP server; `withPlain` decides whether AUTH=PLAIN is advertised. */
function imapServer(withPlain: boolean, seen: string[]): Server {
  return lineServer((socket, send) => {
    send('* OK fake IMAP ready\r\n');
    let pendingTag: string | undefined;
    return (line) => {
      seen.push(line.replace(/ LOGIN .*/, ' LOGIN …'));
      if (pendingTag !== undefined) {
        const [u, p] = plainDecode(line);
        send(USERS[u] === p ? `${pendingTag} OK done\r\n` : `${pendingTag} NO [AUTHENTICATIONFAILED] no\r\n`);
        pendingTag = undefined;
        return;
      }
      const [tag, cmd, ...rest] = line.split(' ');
      switch (cmd?.toUpperCase()) {
        case 'CAPABILITY':
          send(`* CAPABILITY IMAP4rev1${withPlain ? ' AUTH=PLAIN' : ''}\r\n${tag ?? ''} OK\r\n`);
          break;
        case 'AUTHENTICATE':
          pendingTag = tag;
          send('+ \r\n');
          break;
        case 'LOGIN': {
          const m = /^"((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$/.exec(rest.join(' '));
          const unq = (s: string | undefined) => (s ?? '').replace(/\\(.)/g, '$1');
          send(
            m !== null && USERS[unq(m[1])] === unq(m[2]) ? `${tag ?? ''} OK\r\n` : `${tag ?? ''} NO bad\r\n`,
          );
          break;
        }
        case 'LOGOUT':
          send(`* BYE\r\n${tag ?? ''} OK\r\n`);
          socket.end();
          break;
        default:
          send(`${tag ?? ''} BAD unknown\r\n`);
      }
    };
  });
}

/** A fake dovecot auth server (auth-client protocol 1.x). */
function dovecotServer(): Server {
  return lineServer((_socket, send) => {
    send(
      'VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t1\nCUID\t1\nCOOKIE\tabc\nDONE\n',
    );
    return (line) => {
      const f = line.split('\t');
      if (f[0] !== 'AUTH') return;
      const resp = f.find((x) => x.startsWith('resp='))?.slice(5) ?? '';
      const [u, p] = plainDecode(resp);
      const service = f.includes('service=radicale');
      send(service && USERS[u] === p ? `OK\t${f[1] ?? ''}\tuser=${u}\n` : `FAIL\t${f[1] ?? ''}\tuser=${u}\n`);
    };
  });
}

function listen(server: Server, where: string | number = 0): Promise<number> {
  return new Promise((resolve) => {
    if (typeof where === 'string') server.listen(where, () => resolve(0));
    else server.listen(where, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

let dir = '';
const servers: { close: () => void }[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'almanac-remote-'));
});
after(async () => {
  for (const s of servers) s.close();
  await rm(dir, { recursive: true, force: true });
});

async function make(auth: ConfigOverrides['auth']): Promise<Auth> {
  return createAuth(testConfig({ auth: { delay: 0, ...auth } }), memoryLogger().log);
}

async function kind(auth: Auth, user: string, password: string): Promise<string> {
  const out = await auth.authenticate({
    authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`,
    headers: {},
    clientAddress: '127.0.0.1',
    identityHeadersTrusted: false,
  });
  return out.kind === 'user' ? `user:${out.user}` : out.kind;
}

describe('imap', () => {
  it('parses imap_host forms', () => {
    assert.deepEqual(parseImapHost('mail', 'tls'), { host: 'mail', port: 993, security: 'tls' });
    assert.deepEqual(parseImapHost('mail:1143', 'none'), { host: 'mail', port: 1143, security: 'none' });
    assert.deepEqual(parseImapHost('[::1]', 'starttls'), { host: '::1', port: 143, security: 'starttls' });
    assert.deepEqual(parseImapHost('[::1]:2143', 'none'), { host: '::1', port: 2143, security: 'none' });
  });

  for (const withPlain of [true, false]) {
    it(`logs in with ${withPlain ? 'AUTHENTICATE PLAIN' : 'LOGIN (no AUTH=PLAIN)'}, then LOGOUT`, async () => {
      const seen: string[] = [];
      const server = imapServer(withPlain, seen);
      servers.push(server);
      const port = await listen(server);
      const auth = await make({ type: 'imap', imap_host: `127.0.0.1:${port}`, imap_security: 'none' });
      assert.equal(await kind(auth, 'alice', 'alicepw'), 'user:alice');
      assert.equal(await kind(auth, 'alice', 'nope'), 'failed');
      assert.ok(
        seen.some((l) => (withPlain ? /AUTHENTICATE PLAIN/ : / LOGIN /).test(l)),
        seen.join('|'),
      );
      assert.ok(seen.some((l) => / LOGOUT$/.test(l)));
      const domain = await make({
        type: 'imap',
        imap_host: `127.0.0.1:${port}`,
        imap_security: 'none',
        imap_append_domain: 'example.org',
      });
      assert.equal(await kind(domain, 'bob', 'pässwörd€'), 'user:bob', 'imap_append_domain');
    });
  }

  it('an unreachable server or one refusing STARTTLS fails the login without crashing', async () => {
    const server = imapServer(true, []);
    servers.push(server);
    const port = await listen(server);
    const starttls = await make({ type: 'imap', imap_host: `127.0.0.1:${port}`, imap_security: 'starttls' });
    assert.equal(await kind(starttls, 'alice', 'alicepw'), 'failed');
    const closed = createServer();
    const deadPort = await listen(closed);
    closed.close();
    const down = await make({ type: 'imap', imap_host: `127.0.0.1:${deadPort}`, imap_security: 'none' });
    assert.equal(await kind(down, 'alice', 'alicepw'), 'failed');
  });
});

describe('dovecot', () => {
  it('speaks the auth protocol over a unix socket and over TCP', async () => {
    const unix = dovecotServer();
    servers.push(unix);
    const socketPath = join(dir, 'auth-client');
    await listen(unix, socketPath);
    const viaUnix = await make({ type: 'dovecot', dovecot_socket: socketPath });
    assert.equal(await kind(viaUnix, 'alice', 'alicepw'), 'user:alice');
    assert.equal(await kind(viaUnix, 'bob@example.org', 'pässwörd€'), 'user:bob@example.org');
    assert.equal(await kind(viaUnix, 'alice', 'bad'), 'failed');

    const tcp = dovecotServer();
    servers.push(tcp);
    const port = await listen(tcp);
    const viaTcp = await make({
      type: 'dovecot',
      dovecot_connection_type: 'AF_INET',
      dovecot_host: '127.0.0.1',
      dovecot_port: port,
    });
    assert.equal(await kind(viaTcp, 'alice', 'alicepw'), 'user:alice');
    assert.equal(await kind(viaTcp, 'alice', 'bad'), 'failed');
  });
});

describe('oauth2', () => {
  it('password grant: 200 + access_token is a login, anything else is not', async () => {
    const forms: URLSearchParams[] = [];
    const server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        forms.push(form);
        const ok = USERS[form.get('username') ?? ''] === form.get('password');
        if (form.get('username') === 'weird') res.writeHead(200).end('{"token_type":"bearer"}');
        else
          res
            .writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
            .end(ok ? '{"access_token":"t"}' : '{}');
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const auth = await make({
      type: 'oauth2',
      oauth2_token_endpoint: `http://127.0.0.1:${port}/token`,
      oauth2_client_secret: 's3',
    });
    assert.equal(await kind(auth, 'alice', 'alicepw'), 'user:alice');
    assert.equal(await kind(auth, 'alice', 'bad'), 'failed');
    assert.equal(await kind(auth, 'weird', 'x'), 'failed', '200 without access_token');
    assert.equal(forms[0]?.get('grant_type'), 'password');
    assert.equal(forms[0]?.get('client_id'), 'radicale');
    assert.equal(forms[0]?.get('client_secret'), 's3');
    await assert.rejects(make({ type: 'oauth2' }), /oauth2_token_endpoint/);
  });
});

describe('pam', () => {
  it('needs pamtester: a clear start-up error when it is missing', async (t) => {
    if ((await findExecutable('pamtester')) !== undefined) return t.skip('pamtester is installed here');
    await assert.rejects(make({ type: 'pam' }), /pamtester.*apt-get install pamtester/);
  });
});

describe('ldap text helpers', () => {
  it('escapes filter values (RFC 4515) and formats {0}', () => {
    assert.equal(escapeFilterValue('*)(uid=*'), '\\2a\\29\\28uid=\\2a');
    assert.equal(escapeFilterValue('a\\b\0'), 'a\\5cb\\00');
    assert.equal(formatFilter('(&(cn={0})(x={{y}}))', 'v'), '(&(cn=v)(x={y}))');
  });
  it('takes the first RDN value of a DN', () => {
    assert.equal(firstRdnValue('cn=staff,ou=groups,dc=x'), 'staff');
    assert.equal(firstRdnValue('cn=Team\\2C A,ou=groups'), 'Team, A');
    assert.equal(firstRdnValue('cn=a\\,b+sn=c,dc=x'), 'a,b');
  });
});
