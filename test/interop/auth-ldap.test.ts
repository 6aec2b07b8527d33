// [auth] type = ldap against a real OpenLDAP slapd started privately in a temp folder on a free
// loopback port (Debian: apt-get install slapd ldap-utils). Covers reader bind + search + user bind,
// ldap_user_attribute, memberOf groups, group search, empty passwords and LDAP filter injection.
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createAuth } from '../../src/auth/create.js';
import { memoryLogger } from '../helpers/logger.js';
import { testConfig } from '../helpers/config.js';
import type { Auth, AuthOutcome } from '../../src/auth/types.js';
import { findExecutable } from '../../src/auth/backends/pam.js';
import { freePort } from '../helpers/net.js';

const run = promisify(execFile);
const SUFFIX = 'dc=example,dc=org';
const ADMIN = `cn=admin,${SUFFIX}`;
const ADMIN_PW = 'adminsecret';

const DATA = `
dn: ${SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,${SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,${SUFFIX}
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice.l@example.org
userPassword: alicepw

dn: uid=bob,ou=people,${SUFFIX}
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Builder
mail: bob@example.org
userPassword:: cMOkc3N3w7ZyZOKCrA==

dn: uid=carol,ou=people,${SUFFIX}
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Carol
mail: carol@example.org
userPassword: carolpw

dn: cn=staff,ou=groups,${SUFFIX}
objectClass: groupOfNames
cn: staff
member: uid=alice,ou=people,${SUFFIX}
member: uid=bob,ou=people,${SUFFIX}

dn: cn=Team\\2C A,ou=groups,${SUFFIX}
objectClass: groupOfNames
cn: Team, A
member: uid=alice,ou=people,${SUFFIX}
`;

let dir = '';
let slapd: ChildProcess | undefined;
let uri = '';
let skipReason: string | undefined;

before(async () => {
  const slapdPath = await findExecutable('slapd');
  const ldapadd = await findExecutable('ldapadd');
  if (slapdPath === undefined || ldapadd === undefined) {
    if (process.env.CI === 'true')
      throw new Error('slapd/ldapadd missing in CI: apt-get install slapd ldap-utils');
    skipReason = 'slapd or ldapadd not installed: apt-get install slapd ldap-utils';
    return;
  }
  dir = await mkdtemp(join(tmpdir(), 'almanac-slapd-'));
  await mkdir(join(dir, 'data'));
  const port = await freePort();
  uri = `ldap://127.0.0.1:${port}`;
  const conf = [
    'include /etc/ldap/schema/core.schema',
    'include /etc/ldap/schema/cosine.schema',
    'include /etc/ldap/schema/inetorgperson.schema',
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'moduleload memberof',
    `pidfile ${join(dir, 'slapd.pid')}`,
    'database mdb',
    `suffix "${SUFFIX}"`,
    `rootdn "${ADMIN}"`,
    `rootpw ${ADMIN_PW}`,
    `directory ${join(dir, 'data')}`,
    'maxsize 10485760',
    'overlay memberof',
    'access to attrs=userPassword by anonymous auth by self write by * none',
    'access to * by * read',
    '',
  ].join('\n');
  await writeFile(join(dir, 'slapd.conf'), conf);
  await writeFile(join(dir, 'data.ldif'), DATA);
  slapd = spawn(slapdPath, ['-f', join(dir, 'slapd.conf'), '-h', `${uri}/`, '-d', '0'], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      await run(ldapadd, ['-x', '-H', uri, '-D', ADMIN, '-w', ADMIN_PW, '-f', join(dir, 'data.ldif')]);
      break;
    } catch (err) {
      if (i > 50) throw err;
      await sleep(100);
    }
  }
});

after(async () => {
  slapd?.kill();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

async function ldapAuth(
  auth: Record<string, string | boolean>,
  group: Record<string, string> = {},
): Promise<Auth> {
  const config = testConfig({
    auth: {
      type: 'ldap',
      delay: 0,
      ldap_uri: uri,
      ldap_base: SUFFIX,
      ldap_reader_dn: ADMIN,
      ldap_secret: ADMIN_PW,
      ldap_filter: '(&(objectClass=inetOrgPerson)(uid={0}))',
      ...auth,
    },
    group: { type: 'from_auth', ...group },
  });
  return createAuth(config, memoryLogger().log);
}

function login(auth: Auth, user: string, password: string): Promise<AuthOutcome> {
  return auth.authenticate({
    authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`,
    headers: {},
    clientAddress: '127.0.0.1',
    identityHeadersTrusted: false,
  });
}

function summary(o: AuthOutcome): string {
  return o.kind === 'user' ? `${o.user} [${[...o.groups].sort().join(', ')}]` : o.kind;
}

describe('ldap against a real slapd', () => {
  it('bind + search + user bind; wrong and empty passwords fail; UTF-8 passwords work', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const auth = await ldapAuth({});
    assert.equal(summary(await login(auth, 'alice', 'alicepw')), 'alice []');
    assert.equal(summary(await login(auth, 'bob', 'pässwörd€')), 'bob []');
    assert.equal(summary(await login(auth, 'alice', 'wrong')), 'failed');
    assert.equal(summary(await login(auth, 'alice', '')), 'failed', 'an unauthenticated bind is not a login');
    assert.equal(summary(await login(auth, 'nobody', 'x')), 'failed');
  });

  it('filter injection: a login of *)(uid=* does not log in', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const auth = await ldapAuth({ ldap_filter: '(uid={0})', ldap_user_attribute: 'uid' });
    for (const evil of ['*)(uid=*', '*', 'al*', 'alice)(|(uid=*', 'alice\\2a']) {
      assert.equal(summary(await login(auth, evil, 'alicepw')), 'failed', evil);
      assert.equal(summary(await login(auth, evil, 'carolpw')), 'failed', evil);
    }
  });

  it('ldap_user_attribute renames the user', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const auth = await ldapAuth({ ldap_filter: '(mail={0})', ldap_user_attribute: 'uid' });
    assert.equal(summary(await login(auth, 'alice.l@example.org', 'alicepw')), 'alice []');
  });

  it('ldap_groups_attribute = memberOf: group names are the RDN values', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const auth = await ldapAuth({ ldap_groups_attribute: 'memberOf' });
    assert.equal(summary(await login(auth, 'alice', 'alicepw')), 'alice [Team, A, staff]');
    assert.equal(summary(await login(auth, 'bob', 'pässwörd€')), 'bob [staff]');
    assert.equal(summary(await login(auth, 'carol', 'carolpw')), 'carol []');
  });

  it('ldap_group_members_attribute: groups found by searching their members', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const auth = await ldapAuth({
      ldap_group_members_attribute: 'member',
      ldap_group_base: `ou=groups,${SUFFIX}`,
      ldap_group_filter: '(objectClass=groupOfNames)',
    });
    assert.equal(summary(await login(auth, 'alice', 'alicepw')), 'alice [Team, A, staff]');
  });

  it('a wrong reader password or an unreachable server refuses the login (no crash)', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const bad = await ldapAuth({ ldap_secret: 'nope' });
    assert.equal(summary(await login(bad, 'alice', 'alicepw')), 'failed');
    const down = await ldapAuth({ ldap_uri: `ldap://127.0.0.1:${await freePort()}` });
    assert.equal(summary(await login(down, 'alice', 'alicepw')), 'failed');
  });
});
