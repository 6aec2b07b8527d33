import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs } from '../../src/config/args.js';
import { helpText } from '../../src/config/help.js';
import { SCHEMA, type OptionSpec } from '../../src/config/schema.js';

const SECTIONS = SCHEMA as Record<string, Record<string, OptionSpec>>;

void describe('helpText', () => {
  const text = helpText();

  void it('lists every public option with a working flag, its help and default', () => {
    for (const [section, options] of Object.entries(SECTIONS)) {
      assert.ok(text.includes(`[${section}]`), section);
      for (const [option, spec] of Object.entries(options)) {
        if (option.startsWith('_')) continue;
        const flag = `--${section}-${option.replace(/_/g, '-')}`;
        const start = text.indexOf(spec.type === 'bool' ? `${flag} [VALUE]` : `${flag} VALUE`);
        assert.ok(start >= 0, flag);
        const entry = text.slice(start, text.indexOf('\n  ', text.indexOf('\n', start) + 1));
        assert.ok(entry.includes(spec.help), `${flag} help`);
        assert.ok(
          entry.includes(
            `[default: ${spec.default === '' ? '(empty)' : spec.default.replace(/\n/g, '\\n')}]`,
          ),
          `${flag} default`,
        );
        const value = spec.type === 'bool' ? 'True' : 'x';
        assert.deepEqual(parseArgs([`${flag}=${value}`]).values, { [section]: { [option]: value } });
      }
    }
  });

  void it('shows general flags, aliases and opposites', () => {
    for (const needle of ['-C, --config', '-D, --debug', '--verify-storage', '--version', '-h, --help']) {
      assert.ok(text.includes(needle), needle);
    }
    assert.ok(text.includes('-H VALUE, --hosts VALUE, --server-hosts VALUE'));
    assert.ok(text.includes('-S, --no-ssl, --no-server-ssl'));
    assert.ok(text.includes('--no-auth-cache-logins'));
    assert.ok(!text.includes('_filesystem'));
  });

  void it('marks options that are not supported yet', () => {
    const line = text.split('\n').findIndex((l) => l.includes('--logging-profiling-top-x-functions '));
    assert.ok(text.split('\n')[line + 1]?.includes('(not yet supported)'));
  });
});
