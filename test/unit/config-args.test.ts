import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ArgsError, parseArgs } from '../../src/config/args.js';
import { loadConfig } from '../../src/config/load.js';

const LOAD = path.join(import.meta.dirname, '..', 'fixtures', 'config', 'load');

function values(...argv: string[]): Record<string, Record<string, string>> {
  return parseArgs(argv).values;
}

function argsError(...argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (error) {
    assert.ok(error instanceof ArgsError);
    return error.message;
  }
  assert.fail('expected an ArgsError');
}

void describe('parseArgs option flags', () => {
  void it('--section-option=value and --section-option value', () => {
    assert.deepEqual(values('--server-max-connections=20'), { server: { max_connections: '20' } });
    assert.deepEqual(values('--server-max-connections', '20'), { server: { max_connections: '20' } });
    assert.deepEqual(values('--server-script-name='), { server: { script_name: '' } });
    assert.deepEqual(values('--server-protocol=ALL -SSLv3'), { server: { protocol: 'ALL -SSLv3' } });
  });

  void it('boolean flags: bare, with a value, with =, and --no-', () => {
    assert.deepEqual(values('--server-ssl'), { server: { ssl: 'True' } });
    assert.deepEqual(values('--server-ssl', 'False'), { server: { ssl: 'False' } });
    assert.deepEqual(values('--server-ssl=0'), { server: { ssl: '0' } });
    assert.deepEqual(values('--no-server-ssl'), { server: { ssl: 'False' } });
    assert.deepEqual(values('--server-ssl', '--server-timeout', '5'), {
      server: { ssl: 'True', timeout: '5' },
    });
    assert.deepEqual(values('--no-rights-permit-delete-collection'), {
      rights: { permit_delete_collection: 'False' },
    });
  });

  void it("Radicale's aliases", () => {
    assert.deepEqual(values('-H', '0.0.0.0:5232'), { server: { hosts: '0.0.0.0:5232' } });
    assert.deepEqual(values('-H[::]:5232'), { server: { hosts: '[::]:5232' } });
    assert.deepEqual(values('-H=a:1'), { server: { hosts: 'a:1' } });
    assert.deepEqual(values('--hosts', 'a:1'), { server: { hosts: 'a:1' } });
    assert.deepEqual(values('-s'), { server: { ssl: 'True' } });
    assert.deepEqual(values('-S'), { server: { ssl: 'False' } });
    assert.deepEqual(values('--no-ssl'), { server: { ssl: 'False' } });
    assert.deepEqual(values('-c', '/c.pem', '-k', '/k.pem'), {
      server: { certificate: '/c.pem', key: '/k.pem' },
    });
    assert.deepEqual(values('--certificate-authority', '/ca.pem'), {
      server: { certificate_authority: '/ca.pem' },
    });
  });

  void it('later flags win', () => {
    assert.deepEqual(values('-s', '-S'), { server: { ssl: 'False' } });
    assert.deepEqual(values('-D', '--logging-level', 'warning'), { logging: { level: 'warning' } });
  });

  void it('private options have flags too, with dashes or underscores', () => {
    assert.deepEqual(values('--storage-_filesystem-fsync=False'), {
      storage: { _filesystem_fsync: 'False' },
    });
    assert.deepEqual(values('--storage-_filesystem_fsync', 'False'), {
      storage: { _filesystem_fsync: 'False' },
    });
    assert.deepEqual(values('--no-storage-_filesystem-fsync'), { storage: { _filesystem_fsync: 'False' } });
  });

  void it('headers and plugin options pass through to the loader', () => {
    assert.deepEqual(values('--headers-Cache-Control=no-cache'), {
      headers: { 'Cache-Control': 'no-cache' },
    });
    assert.deepEqual(values('--auth-my-server', 'x'), { auth: { my_server: 'x' } });
  });
});

void describe('parseArgs general flags', () => {
  void it('defaults to serve', () => {
    assert.deepEqual(parseArgs([]), { values: {}, action: 'serve', debug: false });
  });

  void it('-C/--config is repeatable and takes several paths', () => {
    assert.deepEqual(parseArgs(['-C', '/a', '--config=/b', '--config', '/c', '/d', '-Cx']).configPaths, [
      '/a',
      '/b',
      '/c',
      '/d',
      'x',
    ]);
    assert.deepEqual(parseArgs(['--config', '']).configPaths, ['']);
    assert.deepEqual(parseArgs(['-C', '-s']).configPaths, []);
  });

  void it('-D/--debug sets the log level', () => {
    assert.deepEqual(parseArgs(['-D']), {
      values: { logging: { level: 'debug' } },
      action: 'serve',
      debug: true,
    });
    assert.equal(parseArgs(['--debug']).debug, true);
  });

  void it('actions', () => {
    assert.equal(parseArgs(['--help']).action, 'help');
    assert.equal(parseArgs(['-h', '--version']).action, 'help');
    assert.equal(parseArgs(['--version']).action, 'version');
    assert.equal(parseArgs(['--verify-storage', '-D']).action, 'verify-storage');
  });

  void it('unknown flags and stray arguments are errors', () => {
    assert.equal(argsError('--server-bogus=1'), 'unrecognized arguments: --server-bogus=1');
    assert.equal(argsError('--nosuch-option'), 'unrecognized arguments: --nosuch-option');
    assert.equal(argsError('-x'), 'unrecognized arguments: -x');
    assert.equal(argsError('serve'), 'unrecognized arguments: serve');
    assert.equal(argsError('--serv'), 'unrecognized arguments: --serv');
  });

  void it('missing or unexpected values are errors', () => {
    assert.equal(argsError('--server-timeout'), 'argument --server-timeout: expected one argument');
    assert.equal(argsError('-H', '-s'), 'argument -H: expected one argument');
    assert.equal(argsError('--no-server-ssl=1'), "argument --no-server-ssl: ignored explicit argument '1'");
    assert.equal(argsError('--version=2'), "argument --version: ignored explicit argument '2'");
  });
});

void describe('command line with loadConfig', () => {
  void it('command line over file over default', () => {
    const parsed = parseArgs([
      '-C',
      path.join(LOAD, 'base.conf'),
      '--server-timeout',
      '7',
      '-s',
      '--no-server-ssl',
    ]);
    const { config } = loadConfig({ paths: parsed.configPaths, args: parsed.values, env: {} });
    assert.equal(config.server.timeout, 7);
    assert.equal(config.server.ssl, false);
    assert.equal(config.server.max_connections, 4);
    assert.equal(config.server.max_content_length, 100000000);
    assert.equal(config.sources['server.timeout'], 'command line');
    assert.equal(config.sources['server.max_connections'], path.join(LOAD, 'base.conf'));
  });

  void it('a bad boolean given on the command line is reported by the loader', () => {
    const parsed = parseArgs(['--server-ssl', 'maybe']);
    assert.throws(() => loadConfig({ paths: [''], args: parsed.values, env: {} }), {
      name: 'ConfigError',
      message:
        "Invalid bool value for option 'ssl' in section 'server' in command line arguments: 'maybe' " +
        '(expected a boolean (1/yes/true/on or 0/no/false/off))',
    });
  });

  void it('unknown plugin options are rejected unless the section type is a plugin', () => {
    const builtIn = parseArgs(['--auth-my-server', 'x']);
    assert.throws(() => loadConfig({ paths: [''], args: builtIn.values, env: {} }), {
      message: "Invalid option 'my_server' in section 'auth' in command line arguments",
    });
    const plugin = parseArgs(['--auth-type', './my-auth.js', '--auth-my-server', 'x']);
    const { config } = loadConfig({ paths: [''], args: plugin.values, env: {} });
    assert.equal(config.extra['auth']?.['my_server'], 'x');
  });
});
