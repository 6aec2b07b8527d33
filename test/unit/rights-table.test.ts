// Rights: the built-in backends and from_file, table-driven over user × path × operation, through the
// Access check (src/rights/access.ts) exactly as the DAV methods use it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { memoryLogger } from '../helpers/logger.js';
import { testConfig, type ConfigOverrides } from '../helpers/config.js';
import {
  canExportCollection,
  canRead,
  canWrite,
  privilegesFor,
  type TargetKind,
} from '../../src/rights/access.js';
import { createRights } from '../../src/rights/create.js';
import type { Rights } from '../../src/rights/types.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'almanac-rights-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function rightsFrom(overrides: ConfigOverrides): Promise<Rights> {
  return createRights(testConfig(overrides), memoryLogger().log);
}

async function fromFile(text: string, overrides: ConfigOverrides = {}): Promise<Rights> {
  const file = join(dir, `rights-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, text);
  return rightsFrom({ ...overrides, rights: { type: 'from_file', file, ...overrides.rights } });
}

/** The four targets: [label, path, kind, parent]. */
const TARGETS: [string, string, TargetKind, string][] = [
  ['root', '', 'collection-plain', ''],
  ['principal', 'alice', 'collection-plain', ''],
  ['calendar', 'alice/cal', 'collection-tagged', 'alice'],
  ['item', 'alice/cal/event.ics', 'item', 'alice/cal'],
];
const USERS: [string, string][] = [
  ['owner', 'alice'],
  ['other', 'bob'],
  ['anonymous', ''],
];
const NO_GROUPS: ReadonlySet<string> = new Set();

/** 'r' read, 'w' write, 'd' delete (write + delete policy), 'o' overwrite (write + overwrite policy). */
function ops(rights: Rights, user: string, path: string, kind: TargetKind, parent: string): string {
  const r = canRead(rights, user, NO_GROUPS, path, kind, parent);
  const w = canWrite(rights, user, NO_GROUPS, path, kind, parent);
  const isCollection = kind !== 'item';
  const d = w && (!isCollection || rights.mayDeleteCollection(user, NO_GROUPS, path));
  const o = w && (!isCollection || rights.mayOverwriteCollection(user, NO_GROUPS, path));
  return `${r ? 'r' : '-'}${w ? 'w' : '-'}${d ? 'd' : '-'}${o ? 'o' : '-'}`;
}

function table(rights: Rights): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [who, user] of USERS) {
    for (const [label, path, kind, parent] of TARGETS)
      out[`${who} ${label}`] = ops(rights, user, path, kind, parent);
  }
  return out;
}

const NOTHING = {
  'anonymous root': '----',
  'anonymous principal': '----',
  'anonymous calendar': '----',
  'anonymous item': '----',
};

describe('built-in rights backends', () => {
  it('owner_only (default)', async () => {
    assert.deepEqual(table(await rightsFrom({ auth: { type: 'htpasswd' } })), {
      'owner root': 'r---',
      'owner principal': 'rwdo',
      'owner calendar': 'rwdo',
      'owner item': 'rwdo',
      'other root': 'r---',
      'other principal': '----',
      'other calendar': '----',
      'other item': '----',
      ...NOTHING,
    });
  });

  it('owner_write', async () => {
    assert.deepEqual(
      table(await rightsFrom({ auth: { type: 'htpasswd' }, rights: { type: 'owner_write' } })),
      {
        'owner root': 'r---',
        'owner principal': 'rwdo',
        'owner calendar': 'rwdo',
        'owner item': 'rwdo',
        'other root': 'r---',
        'other principal': 'r---',
        'other calendar': 'r---',
        'other item': 'r---',
        ...NOTHING,
      },
    );
  });

  it('authenticated', async () => {
    const all = { root: 'rwdo', principal: 'rwdo', calendar: 'rwdo', item: 'rwdo' };
    assert.deepEqual(
      table(await rightsFrom({ auth: { type: 'htpasswd' }, rights: { type: 'authenticated' } })),
      {
        'owner root': all.root,
        'owner principal': all.principal,
        'owner calendar': all.calendar,
        'owner item': all.item,
        'other root': all.root,
        'other principal': all.principal,
        'other calendar': all.calendar,
        'other item': all.item,
        ...NOTHING,
      },
    );
  });

  it('with auth type none, ownership is not checked (Radicale)', async () => {
    const t = table(await rightsFrom({ auth: { type: 'none' } }));
    assert.equal(t['other principal'], 'rwdo');
    assert.equal(t['anonymous calendar'], 'rwdo');
    assert.equal(t['anonymous root'], 'r---');
  });

  it('permit_delete_collection / permit_overwrite_collection = False forbid it without D / O', async () => {
    const t = table(
      await rightsFrom({
        auth: { type: 'htpasswd' },
        rights: { permit_delete_collection: false, permit_overwrite_collection: false },
      }),
    );
    assert.equal(t['owner calendar'], 'rw--');
    assert.equal(t['owner item'], 'rwdo', 'items are not collections');
  });

  it('privilegesFor lists the DAV privileges', async () => {
    const r = await rightsFrom({ auth: { type: 'htpasswd' }, rights: { type: 'owner_write' } });
    assert.deepEqual(privilegesFor(r, 'alice', NO_GROUPS, 'alice/cal', 'collection-tagged', 'alice'), [
      'read',
      'all',
      'write',
      'write-properties',
      'write-content',
      'bind',
      'unbind',
    ]);
    assert.deepEqual(privilegesFor(r, 'bob', NO_GROUPS, 'alice/cal', 'collection-tagged', 'alice'), ['read']);
    assert.deepEqual(privilegesFor(r, '', NO_GROUPS, 'alice/cal', 'collection-tagged', 'alice'), []);
  });
});

/** What one letter, given to the owner on the principal and everything below it, allows. */
const LETTER_TABLE: Record<
  string,
  { principal: string; calendar: string; item: string; exportable: boolean }
> = {
  '': { principal: '----', calendar: '----', item: '----', exportable: false },
  R: { principal: 'r---', calendar: '----', item: '----', exportable: false },
  r: { principal: '----', calendar: 'r---', item: 'r---', exportable: true },
  W: { principal: '-wdo', calendar: '----', item: '----', exportable: false },
  w: { principal: '----', calendar: '-wdo', item: '-wdo', exportable: false },
  i: { principal: '----', calendar: '----', item: '----', exportable: true },
  Ww: { principal: '-wdo', calendar: '-wdo', item: '-wdo', exportable: false },
  wd: { principal: '----', calendar: '-w-o', item: '-wdo', exportable: false },
  wo: { principal: '----', calendar: '-wd-', item: '-wdo', exportable: false },
  wD: { principal: '----', calendar: '-wdo', item: '-wdo', exportable: false },
  wO: { principal: '----', calendar: '-wdo', item: '-wdo', exportable: false },
  rwTtMmPE: { principal: '----', calendar: 'rwdo', item: 'rwdo', exportable: true },
};

describe('from_file: every letter', () => {
  for (const [letters, expected] of Object.entries(LETTER_TABLE)) {
    it(`permissions: ${letters || '(empty)'}`, async () => {
      const rights = await fromFile(
        `[owner]\nuser: .+\ncollection: {user}(/.*)?\npermissions: ${letters}\n`,
        {
          auth: { type: 'htpasswd' },
        },
      );
      const t = table(rights);
      assert.deepEqual(
        { principal: t['owner principal'], calendar: t['owner calendar'], item: t['owner item'] },
        { principal: expected.principal, calendar: expected.calendar, item: expected.item },
      );
      assert.equal(canExportCollection(rights, 'alice', NO_GROUPS, 'alice/cal'), expected.exportable);
      assert.equal(t['owner root'], '----', 'no rule for the root');
      for (const [who] of USERS.slice(1)) {
        for (const [label] of TARGETS) assert.equal(t[`${who} ${label}`], '----', `${who} ${label}`);
      }
    });
  }

  it('with permit_* = False only D / O allow deleting / overwriting', async () => {
    const rules = (p: string) => `[owner]\nuser: .+\ncollection: {user}(/.*)?\npermissions: ${p}\n`;
    const policy = {
      auth: { type: 'htpasswd' },
      rights: { permit_delete_collection: false, permit_overwrite_collection: false },
    };
    assert.equal(table(await fromFile(rules('rw'), policy))['owner calendar'], 'rw--');
    assert.equal(table(await fromFile(rules('rwD'), policy))['owner calendar'], 'rwd-');
    assert.equal(table(await fromFile(rules('rwO'), policy))['owner calendar'], 'rw-o');
  });

  it('unknown letters and P/p or E/e conflicts are start-up errors', async () => {
    await assert.rejects(fromFile('[a]\nuser: .*\ncollection: .*\npermissions: rwX\n'), /permission letter/);
    await assert.rejects(
      fromFile('[a]\nuser: .*\ncollection: .*\npermissions: Pp\n'),
      /'P' and 'p' conflict/,
    );
    await assert.rejects(
      fromFile('[a]\nuser: .*\ncollection: .*\npermissions: Ee\n'),
      /'E' and 'e' conflict/,
    );
  });
});

describe("from_file: Radicale's documented rule shapes", () => {
  const OWNER_ONLY = `
# Allow reading root collection for authenticated users
[root]
user: .+
collection:
permissions: R

# Allow reading and writing principal collection (same as user name)
[principal]
user: .+
collection: {user}
permissions: RW

# Allow reading and writing calendars and address books that are direct
# children of the principal collection
[calendars]
user: .+
collection: {user}/[^/]+
permissions: rw
`;

  it('owner only, as the default backend', async () => {
    const file = table(await fromFile(OWNER_ONLY, { auth: { type: 'htpasswd' } }));
    const builtin = table(await rightsFrom({ auth: { type: 'htpasswd' } }));
    assert.deepEqual(file, builtin);
  });

  it('a public calendar readable by everyone, incl. anonymous, writable by its owner', async () => {
    const rights = await fromFile(
      `[public]\nuser: .*\ncollection: alice/public(/.*)?\npermissions: r\n${OWNER_ONLY.replace('[root]', '[root2]')}`,
      { auth: { type: 'htpasswd' } },
    );
    for (const user of ['', 'bob', 'alice']) {
      assert.equal(
        canRead(rights, user, NO_GROUPS, 'alice/public', 'collection-tagged', 'alice'),
        true,
        user,
      );
      assert.equal(
        canRead(rights, user, NO_GROUPS, 'alice/public/e.ics', 'item', 'alice/public'),
        true,
        user,
      );
    }
    // First match wins: the public rule (r) shadows alice's own rw rule on this calendar.
    assert.equal(canWrite(rights, 'alice', NO_GROUPS, 'alice/public', 'collection-tagged', 'alice'), false);
    assert.equal(canWrite(rights, 'alice', NO_GROUPS, 'alice/work', 'collection-tagged', 'alice'), true);
    assert.equal(canRead(rights, 'bob', NO_GROUPS, 'alice/work', 'collection-tagged', 'alice'), false);
  });

  it('group calendars through the groups key', async () => {
    const rights = await fromFile(
      '[group-calendars]\ngroups: staff, admins\ncollection: GROUPS/staff(/[^/]+)?\npermissions: rw\n',
      { auth: { type: 'htpasswd' } },
    );
    const staff = new Set(['staff']);
    assert.equal(
      canWrite(rights, 'carol', staff, 'GROUPS/staff/cal', 'collection-tagged', 'GROUPS/staff'),
      true,
    );
    assert.equal(
      canWrite(rights, 'carol', new Set(['admins']), 'GROUPS/staff/cal', 'collection-tagged', 'GROUPS/staff'),
      true,
    );
    assert.equal(
      canRead(rights, 'dave', NO_GROUPS, 'GROUPS/staff/cal', 'collection-tagged', 'GROUPS/staff'),
      false,
    );
    // Beyond Radicale: a rule with groups but no user key does not also match anonymous (user '' = '').
    assert.equal(
      canRead(rights, '', new Set(['']), 'GROUPS/staff/cal', 'collection-tagged', 'GROUPS/staff'),
      false,
    );
  });

  it('capture groups of the user regex in collection, escaped like {user}', async () => {
    const rights = await fromFile(
      '[domain]\nuser: (.+)@(example\\.org)\ncollection: {1}/{0}(/.*)?\npermissions: rw\n',
    );
    assert.equal(rights.authorization('ann@example.org', NO_GROUPS, 'example.org/ann/cal'), 'rw');
    assert.equal(
      rights.authorization('ann@example.org', NO_GROUPS, 'exampleXorg/ann/cal'),
      '',
      'the dot is escaped',
    );
    assert.equal(rights.authorization('ann@other.org', NO_GROUPS, 'example.org/ann'), '');
  });

  it('{user} is regex-escaped (no regex injection through the login)', async () => {
    const rights = await fromFile('[owner]\nuser: .+\ncollection: {user}(/.*)?\npermissions: rw\n');
    assert.equal(rights.authorization('a.c', NO_GROUPS, 'a.c/cal'), 'rw');
    assert.equal(rights.authorization('a.c', NO_GROUPS, 'abc/cal'), '');
    assert.equal(rights.authorization('.*', NO_GROUPS, 'alice/cal'), '');
  });

  it('doubled braces are literal, %% is a percent sign, %(name)s interpolates, Python named groups work', async () => {
    const rights = await fromFile(
      [
        '[braces]',
        'user: .*',
        'collection: x{{2}}',
        'permissions: R',
        '[percent]',
        'user: (?P<name>.+)',
        'base: shared',
        'collection: %(base)s/100%%/{0}/(?P<again>[a-z]+)/(?P=again)',
        'permissions: r',
        '',
      ].join('\n'),
    );
    assert.equal(rights.authorization('', NO_GROUPS, 'xx'), 'R');
    assert.equal(rights.authorization('', NO_GROUPS, 'x{2}'), '');
    assert.equal(rights.authorization('bob', NO_GROUPS, 'shared/100%/bob/x/x'), 'r');
    assert.equal(rights.authorization('bob', NO_GROUPS, 'shared/100%/bob/x/y'), '');
  });

  it('first matching section wins; no match gives nothing', async () => {
    const rights = await fromFile(
      '[a]\nuser: bob\ncollection: .*\npermissions: r\n[b]\nuser: .*\ncollection: .*\npermissions: rw\n',
    );
    assert.equal(rights.authorization('bob', NO_GROUPS, 'x'), 'r');
    assert.equal(rights.authorization('eve', NO_GROUPS, 'x'), 'rw');
    const none = await fromFile('[a]\nuser: bob\ncollection: bob\npermissions: rw\n');
    assert.equal(none.authorization('eve', NO_GROUPS, 'bob'), '');
  });

  it('bad files are start-up errors naming the section', async () => {
    await assert.rejects(
      fromFile('[a]\nuser: .*\ncollection: x{2}\npermissions: r\n'),
      /section \[a\].*\{2\}/,
    );
    await assert.rejects(
      fromFile('[a]\nuser: .*\ncollection: {foo}\npermissions: r\n'),
      /unknown placeholder \{foo\}/,
    );
    await assert.rejects(
      fromFile('[a]\nuser: (\ncollection: .*\npermissions: r\n'),
      /invalid regular expression/,
    );
    await assert.rejects(
      fromFile('[a]\nuser: .*\ncollection: 100%\npermissions: r\n'),
      /'%' must be followed/,
    );
    await assert.rejects(fromFile('[a]\nuser: .*\npermissions: r\n'), /missing 'collection'/);
    await assert.rejects(
      createRights(
        testConfig({ rights: { type: 'from_file', file: join(dir, 'nope') } }),
        memoryLogger().log,
      ),
      /cannot read/,
    );
  });
});
