import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { IniError, parseIni, type IniDocument } from '../../src/config/ini.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'config');

/** What Python's RawConfigParser made of each fixture (generated once by generate-expected.py). */
type Expected =
  | { sections: Record<string, Record<string, string>>; defaults: Record<string, string> }
  | {
      error: string;
      line: number;
    };
const EXPECTED = JSON.parse(
  fs.readFileSync(path.join(FIXTURES, 'expected-configparser.json'), 'utf8'),
) as Record<string, Expected | string>;

function plain(doc: IniDocument): {
  sections: Record<string, Record<string, string>>;
  defaults: Record<string, string>;
} {
  const sections: Record<string, Record<string, string>> = {};
  for (const [name, section] of doc.sections) {
    sections[name] = Object.fromEntries([...section.options].map(([k, v]) => [k, v.value]));
  }
  return { sections, defaults: Object.fromEntries([...doc.defaults].map(([k, v]) => [k, v.value])) };
}

function parseText(text: string): ReturnType<typeof plain> {
  return plain(parseIni(text, 'test.ini'));
}

function errorOf(text: string): IniError {
  try {
    parseIni(text, '/etc/almanac/config');
  } catch (error) {
    assert.ok(error instanceof IniError);
    return error;
  }
  assert.fail('expected an IniError');
}

void describe('parseIni matches Python configparser on every fixture', () => {
  const names = Object.keys(EXPECTED).filter((name) => name.endsWith('.ini'));
  void it('has golden data for the fixtures', () => assert.ok(names.length >= 10));
  for (const name of names) {
    void it(name, () => {
      const text = fs.readFileSync(path.join(FIXTURES, name), 'utf8');
      const expected = EXPECTED[name] as Expected;
      if ('error' in expected) {
        assert.throws(
          () => parseIni(text, name),
          (error: unknown) => {
            assert.ok(error instanceof IniError);
            assert.equal(error.line, expected.line);
            return true;
          },
        );
      } else {
        assert.deepEqual(parseText(text), expected);
      }
    });
  }
});

void describe('parseIni syntax', () => {
  void it('accepts key: value and uses the first of = or : as delimiter', () => {
    const doc = parseText('[s]\na: 1\nb = 2\nc : d = e\nurl = http://x:80/\nt: 12:30\n');
    assert.deepEqual(doc.sections['s'], { a: '1', b: '2', c: 'd = e', url: 'http://x:80/', t: '12:30' });
  });

  void it('keeps "; text" and "# text" inside a value; only whole lines are comments', () => {
    const doc = parseText(
      "[headers]\nCSP = default-src 'self'; object-src 'none'\n; x = 1\n  # y = 2\nN = a # b\n",
    );
    assert.deepEqual(doc.sections['headers'], { csp: "default-src 'self'; object-src 'none'", n: 'a # b' });
  });

  void it('joins indented continuation lines with \\n, keeps inner blank lines, drops trailing ones', () => {
    const doc = parseText(
      '[s]\nv = first\n  second\n\n    third\n  # skipped comment\n  fourth\n\n\nw = 1\n',
    );
    assert.equal(doc.sections['s']?.['v'], 'first\nsecond\n\nthird\nfourth');
    assert.equal(doc.sections['s']?.['w'], '1');
  });

  void it('lowercases option names but keeps section names case-sensitive', () => {
    const doc = parseText('[Server]\nHoSTs = A\n[server]\nMAX_Connections = 20\n');
    assert.deepEqual(doc.sections, { Server: { hosts: 'A' }, server: { max_connections: '20' } });
  });

  void it('gives every section the [DEFAULT] options, own values first', () => {
    const doc = parseIni('[DEFAULT]\nbase = /srv\nx = d\n[a]\nx = own\n[b]\n', 't');
    assert.deepEqual(plain(doc).sections, { a: { x: 'own', base: '/srv' }, b: { base: '/srv', x: 'd' } });
    assert.deepEqual(doc.sections.get('b')?.options.get('x'), { value: 'd', line: 3, inherited: true });
    assert.deepEqual(doc.sections.get('a')?.options.get('x'), { value: 'own', line: 5, inherited: false });
  });

  void it('records the line of each option and section', () => {
    const doc = parseIni('# c\n\n[server]\n\nhosts = a:1,\n  b:2\ntimeout = 3\n', 't');
    assert.equal(doc.sections.get('server')?.line, 3);
    assert.equal(doc.sections.get('server')?.options.get('hosts')?.line, 5);
    assert.equal(doc.sections.get('server')?.options.get('timeout')?.line, 7);
  });

  void it('treats CRLF and CR line ends like LF and ignores a BOM', () => {
    assert.deepEqual(parseText('\uFEFF[s]\r\na = 1\r\n  b\rc = 2\r\n'), {
      sections: { s: { a: '1\nb', c: '2' } },
      defaults: {},
    });
  });

  void it('accepts empty values and an empty file', () => {
    assert.deepEqual(parseText('[s]\na =\nb:\n'), { sections: { s: { a: '', b: '' } }, defaults: {} });
    assert.deepEqual(parseText(''), { sections: {}, defaults: {} });
  });
});

void describe('parseIni errors name file and line', () => {
  void it('duplicate option (case-insensitive)', () => {
    const error = errorOf('[server]\nhosts = a:1\nHOSTS = b:2\n');
    assert.equal(
      error.message,
      "/etc/almanac/config, line 3: option 'hosts' in section 'server' already exists",
    );
  });

  void it('duplicate section', () => {
    const error = errorOf('[server]\n[auth]\n[server]\n');
    assert.equal(error.message, "/etc/almanac/config, line 3: section 'server' already exists");
  });

  void it('option before any section', () => {
    const error = errorOf('# comment\nhosts = a:1\n[server]\n');
    assert.equal(
      error.message,
      "/etc/almanac/config, line 2: option before the first section header: 'hosts = a:1'",
    );
  });

  void it('line without delimiter', () => {
    const error = errorOf('[server]\njust words\n');
    assert.equal(
      error.message,
      "/etc/almanac/config, line 2: not an option line (expected 'name = value'): 'just words'",
    );
  });

  void it('empty option name', () => {
    assert.equal(errorOf('[server]\n = x\n').line, 2);
  });
});
