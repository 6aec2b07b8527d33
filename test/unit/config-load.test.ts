import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ConfigError,
  loadConfig,
  parseCompoundPaths,
  type LoadConfigOptions,
} from '../../src/config/load.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'config');
const LOAD = path.join(FIXTURES, 'load');
const SAMPLE = path.join(FIXTURES, 'radicale-sample.ini');
const HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'almanac-config-'));
const ENV = { HOME };
after(() => fs.rmSync(HOME, { recursive: true, force: true }));

function fixture(name: string): string {
  return path.join(LOAD, name);
}

function writeTemp(name: string, text: string): string {
  const file = path.join(HOME, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Loads only the given files (never the machine's /etc/almanac/config). */
function load(paths: string[], args: LoadConfigOptions['args'] = {}) {
  return loadConfig({ paths: paths.length === 0 ? [''] : paths, args, env: ENV });
}

function errorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a ConfigError');
}

void describe('loadConfig defaults', () => {
  void it('yields the schema defaults, typed, when no file is loaded', () => {
    const { config, warnings, unsupported, files } = load([]);
    assert.deepEqual(config.server.hosts, ['localhost:5232']);
    assert.equal(config.server.max_connections, 8);
    assert.equal(config.server.delay_on_error, 1);
    assert.equal(config.server.ssl, false);
    assert.equal(config.server.certificate, '/etc/ssl/radicale.cert.pem');
    assert.equal(config.server.certificate_authority, '');
    assert.deepEqual(config.server.trusted_proxies, ['127.0.0.1/8', '::1']);
    assert.equal(config.auth.type, 'denyall');
    assert.equal(config.rights.permit_delete_collection, true);
    assert.equal(config.storage.folder_umask, undefined);
    assert.deepEqual(config.storage.predefined_collections, {});
    assert.deepEqual(config.logging.request_header_on_notice_condition, {});
    assert.equal(config.storage._filesystem_fsync, true);
    assert.deepEqual({ ...config.headers }, {});
    assert.deepEqual({ ...config.extra }, {});
    assert.equal(config.sources['server.hosts'], 'default');
    assert.deepEqual(warnings, []);
    assert.deepEqual(unsupported, []);
    assert.deepEqual(files, []);
  });
});

void describe('loadConfig reads a Radicale 3.x config unchanged', () => {
  void it('loads the commented sample with options enabled', () => {
    const { config, warnings, unsupported } = load([SAMPLE]);
    assert.deepEqual(config.server.hosts, ['0.0.0.0:5232', '[::]:5232']);
    assert.equal(config.server.max_connections, 20);
    assert.equal(config.server.timeout, 30);
    assert.equal(config.auth.type, 'htpasswd');
    assert.equal(config.auth.htpasswd_filename, '/etc/radicale/users');
    assert.equal(config.auth.htpasswd_encryption, 'md5');
    assert.equal(config.auth.realm, 'Radicale - Password Required');
    assert.equal(config.rights.type, 'owner_only');
    assert.equal(config.storage.filesystem_folder, '/var/lib/radicale/collections');
    assert.equal(config.storage.folder_umask, 0o027);
    assert.deepEqual(config.storage.predefined_collections, {
      'def-calendar': {
        'C:supported-calendar-component-set': 'VEVENT,VJOURNAL,VTODO',
        'D:displayname': 'Personal Calendar',
        tag: 'VCALENDAR',
      },
    });
    assert.equal(config.web.type, 'internal');
    assert.equal(config.logging.level, 'info');
    assert.deepEqual(
      { ...config.headers },
      {
        'access-control-allow-origin': '*',
        'content-security-policy': "default-src 'self'; object-src 'none'",
      },
    );
    assert.equal(config.sources['auth.type'], SAMPLE);
    assert.equal(config.sources['headers.access-control-allow-origin'], SAMPLE);
    assert.equal(config.sources['server.ssl'], 'default');
    assert.deepEqual(warnings, []);
    assert.deepEqual(unsupported, []);
  });
});

void describe('loadConfig error messages', () => {
  void it('unknown section', () => {
    const file = fixture('unknown-section.conf');
    assert.equal(
      errorMessage(() => load([file])),
      `Invalid section 'servre' in config file '${file}' (line 4)`,
    );
  });

  void it('unknown option', () => {
    const file = fixture('unknown-option.conf');
    assert.equal(
      errorMessage(() => load([file])),
      `Invalid option 'max_conections' in section 'server' in config file '${file}' (line 3)`,
    );
  });

  void it('wrong int', () => {
    const file = fixture('bad-int.conf');
    assert.equal(
      errorMessage(() => load([file])),
      `Invalid int value for option 'max_connections' in section 'server' in config file '${file}' (line 2): ` +
        `'twenty' (expected a non-negative integer)`,
    );
  });

  void it('wrong bool', () => {
    const file = fixture('bad-bool.conf');
    assert.equal(
      errorMessage(() => load([file])),
      `Invalid bool value for option 'ssl' in section 'server' in config file '${file}' (line 2): ` +
        `'maybe' (expected a boolean (1/yes/true/on or 0/no/false/off))`,
    );
  });

  void it('missing required file', () => {
    const file = path.join(HOME, 'does-not-exist.conf');
    assert.equal(
      errorMessage(() => load([file])),
      `Failed to load config file '${file}': file not found`,
    );
  });

  void it('duplicate option', () => {
    const file = path.join(FIXTURES, 'errors', 'duplicate-option.ini');
    assert.equal(
      errorMessage(() => load([file])),
      `Failed to load config file '${file}': line 4: option 'hosts' in section 'server' already exists`,
    );
  });

  void it('option before section', () => {
    const file = path.join(FIXTURES, 'errors', 'option-before-section.ini');
    assert.equal(
      errorMessage(() => load([file])),
      `Failed to load config file '${file}': line 3: option before the first section header: 'hosts = localhost:5232'`,
    );
  });

  void it('[DEFAULT] options are inherited, so unknown ones fail in every section (as in Radicale)', () => {
    const file = fixture('default-section.conf');
    assert.equal(
      errorMessage(() => load([file])),
      `Invalid option 'owner' in section 'server' in config file '${file}' (line 2, inherited from [DEFAULT])`,
    );
  });

  void it('wrong value on the command line names the command line', () => {
    assert.equal(
      errorMessage(() => load([], { server: { timeout: '-1' } })),
      "Invalid float value for option 'timeout' in section 'server' in command line arguments: '-1' " +
        '(expected a non-negative number)',
    );
    assert.equal(
      errorMessage(() => load([], { nosuch: { a: '1' } })),
      "Invalid section 'nosuch' in command line arguments",
    );
  });

  void it('any type value loads, as in Radicale: a misspelt built-in or a bare plugin module name', () => {
    // Whether it can run is decided at start (src/config/plugin.ts), as Radicale imports it then.
    assert.equal(load([fixture('typo-plugin.conf')]).config.auth.type, 'htpaswd');
    const { config } = load([], {
      auth: { type: 'radicale_imap', imap_server: 'mail.example.org' },
      web: { type: 'radicale_infcloud' },
      rights: { type: 'my.rights' },
    });
    assert.equal(config.auth.type, 'radicale_imap');
    assert.equal(config.extra['auth']?.['imap_server'], 'mail.example.org');
    assert.equal(config.web.type, 'radicale_infcloud');
    assert.equal(config.rights.type, 'my.rights');
  });

  void it('[hook] smtp_port may be empty (the port of smtp_security), as in Radicale', () => {
    const file = writeTemp('smtp.conf', '[hook]\nsmtp_server = localhost\nsmtp_port =\n');
    const { config } = load([file]);
    assert.equal(config.hook.smtp_port, '');
    assert.equal(load([], { hook: { smtp_port: '587' } }).config.hook.smtp_port, '587');
  });

  void it('malformed hosts', () => {
    assert.match(
      errorMessage(() => load([], { server: { hosts: 'localhost' } })),
      /expected a comma-separated list of address:port/,
    );
    // The loader parses entries as the server binds them: an entry the server could not bind is
    // refused when the file is read.
    assert.match(
      errorMessage(() => load([], { server: { hosts: '[nope]:5232' } })),
      /expected a comma-separated list of address:port/,
    );
    assert.deepEqual(load([], { server: { hosts: '127.0.0.1:5232, [::1]:5232' } }).config.server.hosts, [
      '127.0.0.1:5232',
      '[::1]:5232',
    ]);
  });

  void it('lc_username and uc_username together', () => {
    assert.equal(
      errorMessage(() => load([], { auth: { lc_username: 'True', uc_username: 'yes' } })),
      "Invalid configuration: options 'lc_username' (command line) and 'uc_username' (command line) in section " +
        "'auth' cannot both be enabled",
    );
  });
});

void describe('loadConfig [sharing] bday templates', () => {
  void it('Radicale defaults, typed', () => {
    const { config } = load([]);
    assert.equal(
      config.sharing.conversion_bday_summary_template,
      '[{n:f} {n:g}|{fn}|{nickname}] ({year}) (BDAY)',
    );
    assert.equal(config.sharing.conversion_bday_age_max, 99);
  });

  void it('a template with an unknown placeholder, a bad alarm or age_max stops the start, naming the file', () => {
    const file = writeTemp('bday.conf', '[sharing]\nconversion_bday_summary_template = {fn} ({birthday})\n');
    assert.match(
      errorMessage(() => load([file])),
      /conversion_bday_summary_template: unknown placeholder \{birthday\}.*bday\.conf/,
    );
    assert.match(
      errorMessage(() => load([], { sharing: { conversion_bday_alarm_trigger_template: '1 day;{fn}' } })),
      /alarm trigger "1 day"/,
    );
    assert.match(
      errorMessage(() => load([], { sharing: { conversion_bday_age_max: '200' } })),
      /0 to 199/,
    );
    assert.match(
      errorMessage(() => load([], { sharing: { conversion_bday_summary_template: '' } })),
      /must not be empty/,
    );
    const ok = load([], {
      sharing: { conversion_bday_alarm_trigger_template: '-1D;[{nickname}|{fn}] tomorrow' },
    });
    assert.equal(ok.unsupported.length, 0);
  });
});

void describe('loadConfig sources and precedence', () => {
  void it('command line over later file over earlier file over default, recorded per option', () => {
    const base = fixture('base.conf');
    const override = fixture('override.conf');
    const { config } = load([`${base}:${override}`], { server: { timeout: '99' } });
    assert.equal(config.server.max_connections, 6);
    assert.equal(config.server.timeout, 99);
    assert.deepEqual(config.server.hosts, ['127.0.0.1:5300']);
    assert.equal(config.server.max_content_length, 100000000);
    assert.equal(config.storage.filesystem_folder, path.join(HOME, 'collections'));
    assert.equal(config.sources['server.max_connections'], override);
    assert.equal(config.sources['server.timeout'], 'command line');
    assert.equal(config.sources['server.hosts'], base);
    assert.equal(config.sources['server.max_content_length'], 'default');
  });

  void it('several --config values and ? for optional files', () => {
    const missing = path.join(HOME, 'missing.conf');
    const { config, files } = load([fixture('base.conf'), `?${missing}:${fixture('override.conf')}`]);
    assert.equal(config.server.max_connections, 6);
    assert.deepEqual(files, [
      { path: fixture('base.conf'), loaded: true },
      { path: missing, loaded: false },
      { path: fixture('override.conf'), loaded: true },
    ]);
  });

  void it('reads ~/.config/almanac/config by default, ALMANAC_CONFIG replaces it, --config replaces both', () => {
    const home = fs.mkdtempSync(path.join(HOME, 'home-'));
    fs.mkdirSync(path.join(home, '.config', 'almanac'), { recursive: true });
    fs.writeFileSync(path.join(home, '.config', 'almanac', 'config'), '[server]\nmax_connections = 11\n');
    const fromHome = loadConfig({ env: { HOME: home } });
    assert.equal(fromHome.config.server.max_connections, 11);
    assert.deepEqual(fromHome.files, [
      { path: '/etc/almanac/config', loaded: fs.existsSync('/etc/almanac/config') },
      { path: path.join(home, '.config', 'almanac', 'config'), loaded: true },
    ]);
    const fromEnv = loadConfig({ env: { HOME: home, ALMANAC_CONFIG: fixture('override.conf') } });
    assert.equal(fromEnv.config.server.max_connections, 6);
    const fromArgs = loadConfig({
      paths: [fixture('base.conf')],
      env: { HOME: home, ALMANAC_CONFIG: fixture('override.conf') },
    });
    assert.equal(fromArgs.config.server.max_connections, 4);
    const none = loadConfig({ paths: [''], env: { HOME: home } });
    assert.equal(none.config.server.max_connections, 8);
    assert.deepEqual(none.files, []);
  });

  void it('parseCompoundPaths expands ~ and drops empty entries', () => {
    assert.deepEqual(parseCompoundPaths('?~/a::/b', '/home/u'), [
      { path: '/home/u/a', optional: true },
      { path: '/b', optional: false },
    ]);
  });
});

void describe('loadConfig types', () => {
  void it('converts every option type with Python semantics', () => {
    const config = load([], {
      server: { max_connections: ' 1_000 ', timeout: '2.5e1', ssl: 'ON', hosts: ' a:1 , [::1]:2' },
      storage: { folder_umask: '0077', predefined_collections: '', filesystem_folder: 'rel/dir' },
      logging: { level: 'debug', mask_passwords: 'no' },
    }).config as unknown as Record<string, Record<string, unknown>>;
    assert.equal(config['server']?.['max_connections'], 1000);
    assert.equal(config['server']?.['timeout'], 25);
    assert.equal(config['server']?.['ssl'], true);
    assert.deepEqual(config['server']?.['hosts'], ['a:1', '[::1]:2']);
    assert.equal(config['storage']?.['folder_umask'], 0o77);
    assert.deepEqual(config['storage']?.['predefined_collections'], {});
    assert.equal(config['storage']?.['filesystem_folder'], path.resolve('rel/dir'));
    assert.equal(config['logging']?.['mask_passwords'], false);
  });

  void it('list options drop empty items', () => {
    const { config } = load([], { server: { trusted_proxies: ' 10.0.0.0/8 ,, ::1 ,' } });
    assert.deepEqual(config.server.trusted_proxies, ['10.0.0.0/8', '::1']);
  });

  void it('accepts every configparser boolean spelling', () => {
    for (const [raw, value] of [
      ['1', true],
      ['Yes', true],
      ['TRUE', true],
      ['on', true],
      ['0', false],
      ['NO', false],
      ['False', false],
      ['off', false],
    ] as const) {
      assert.equal(load([], { server: { ssl: raw } }).config.server.ssl, value, raw);
    }
  });

  void it('rejects malformed numbers, octal and JSON', () => {
    assert.match(
      errorMessage(() => load([], { server: { max_connections: '1.5' } })),
      /non-negative integer/,
    );
    assert.match(
      errorMessage(() => load([], { server: { max_connections: '-3' } })),
      /non-negative integer/,
    );
    assert.match(
      errorMessage(() => load([], { server: { timeout: 'inf' } })),
      /non-negative number/,
    );
    assert.match(
      errorMessage(() => load([], { storage: { folder_umask: '0089' } })),
      /octal number/,
    );
    assert.match(
      errorMessage(() => load([], { storage: { predefined_collections: '[1]' } })),
      /JSON object/,
    );
    assert.match(
      errorMessage(() => load([], { logging: { level: 'loud' } })),
      /expected one of trace, debug/,
    );
  });
});

void describe('loadConfig plugins, headers and checks', () => {
  void it('keeps options of a plugin section in extra', () => {
    const file = fixture('plugin.conf');
    const { config } = load([file]);
    assert.equal(config.auth.type, './plugins/my-auth.js');
    assert.deepEqual({ ...config.extra['auth'] }, { my_server: 'auth.example.com', my_timeout: '5' });
    assert.equal(config.sources['auth.my_server'], file);
  });

  void it('command-line headers keep their case', () => {
    const { config } = load([SAMPLE], { headers: { 'Cache-Control': 'no-cache' } });
    assert.equal(config.headers['Cache-Control'], 'no-cache');
    assert.equal(config.headers['access-control-allow-origin'], '*');
  });

  void it('caps max_resource_size to 80% of max_content_length with a warning', () => {
    const { config, warnings } = load([], {
      server: { max_content_length: '1000', max_resource_size: '900' },
    });
    assert.equal(config.server.max_resource_size, 800);
    assert.deepEqual(warnings, [
      'server.max_resource_size (900) is larger than 80% of server.max_content_length (1000); using 800',
    ]);
  });

  void it('lists not-yet-supported options set to a non-default value', () => {
    const path1 = writeTemp(
      'later.conf',
      '[logging]\nprofiling_top_x_functions = 5\nprofiling_per_request_header = False\n[storage]\nuse_cache_subfolder_for_item = False\n',
    );
    const { unsupported } = load([path1], { logging: { profiling: 'per_request' } });
    assert.deepEqual([...unsupported].sort(), ['logging.profiling', 'logging.profiling_top_x_functions']);
  });
});
