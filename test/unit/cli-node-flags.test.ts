import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseShebang, shellCommand, type NodeCommand } from '../../src/cli/node-flags.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function binCommand(): NodeCommand {
  const firstLine = readFileSync(join(REPO, 'src/cli/main.ts'), 'utf8').split('\n', 1)[0] ?? '';
  const cmd = parseShebang(firstLine);
  assert.ok(cmd, `src/cli/main.ts must start with a #!/usr/bin/env shebang running node: ${firstLine}`);
  return cmd;
}

describe('parseShebang', () => {
  it('reads environment assignments and node flags after env -S', () => {
    assert.deepEqual(parseShebang('#!/usr/bin/env -S A_B=2 node --x=1 --y'), {
      env: { A_B: '2' },
      flags: ['--x=1', '--y'],
    });
  });

  it('reads a plain env shebang', () => {
    assert.deepEqual(parseShebang('#!/usr/bin/env node'), { env: {}, flags: [] });
  });

  it('rejects lines that do not run node through env', () => {
    assert.equal(parseShebang('#!/usr/bin/env -S python3 -u'), undefined);
    assert.equal(parseShebang('#!/usr/bin/node'), undefined);
    assert.equal(parseShebang('import x from "y";'), undefined);
  });
});

describe('how Almanac is started', () => {
  it('the almanac bin starts node with memory-saving flags that this node accepts', () => {
    const cmd = binCommand();
    assert.ok(cmd.flags.length > 0);
    const r = spawnSync(process.execPath, [...cmd.flags, '-e', '0'], {
      env: { ...process.env, ...cmd.env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  });

  it('npm start runs the same command as the bin, exec-ed by its shell', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    assert.equal(pkg.scripts.start, shellCommand(binCommand(), 'node', 'dist/cli/main.js', true));
  });

  it('the systemd unit in README.md runs the same command as the bin', () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const cmd = binCommand();
    const exec = `ExecStart=${shellCommand({ env: {}, flags: cmd.flags }, '/usr/bin/node', '/opt/almanac/dist/cli/main.js')} `;
    assert.ok(readme.includes(exec), `README.md should contain ${exec}`);
    for (const [k, v] of Object.entries(cmd.env)) assert.ok(readme.includes(`Environment=${k}=${v}\n`));
  });
});
