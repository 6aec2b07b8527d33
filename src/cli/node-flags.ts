/**
 * How Node is started for Almanac. The `almanac` bin's shebang (the first line of src/cli/main.ts, kept
 * by tsc in dist/cli/main.js) is the one place that says it: `npm start`, the systemd unit in README.md
 * and the benchmark use the same environment and flags (test/unit/cli-node-flags.test.ts checks that),
 * so what is measured is what users run.
 *
 * Why the flags: V8's defaults are tuned for throughput on big machines (16 MiB semi-spaces, a generous
 * old generation), which costs tens of MiB of resident memory for a small server; the shebang's flags
 * trade a little speed for much less memory. glibc's malloc raises its mmap threshold after freeing a
 * big block and then keeps later big buffers (sync-token states, digests) in its heap after they are
 * freed; a fixed threshold gives them back (about 20 MiB less resident at 100,000 items).
 * `--single-threaded-gc`: V8's parallel scavenger hands each young-generation collection to helper
 * threads; on a 2-core machine shared with other processes those threads wait for a core, and the
 * collections (one per multiget of 100 items with a 4 MiB semi-space) cost 1-5 ms of wall time and
 * twice that in CPU. On the main thread they cost less: server CPU per calendar-multiget of 100
 * items fell from 6.3 to 2.3-3.5 ms, per sync-collection of 1,000 items from 7-8 to 3.4 ms (load 7).
 * See README.md "Running as a service".
 */

export interface NodeCommand {
  /** Environment variables set before Node starts (e.g. glibc's MALLOC_ARENA_MAX). */
  readonly env: Readonly<Record<string, string>>;
  /** Options for node itself, before the script. */
  readonly flags: readonly string[];
}

const ENV_ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

/**
 * Reads `#!/usr/bin/env -S [NAME=value...] node [--flag...]` (or `#!/usr/bin/env node`); undefined when the
 * line is not a shebang that runs node through env.
 */
export function parseShebang(firstLine: string): NodeCommand | undefined {
  const m = /^#!\s*\/usr\/bin\/env\s+(.*)$/.exec(firstLine.trim());
  if (m?.[1] === undefined) return undefined;
  const words = m[1].split(/\s+/).filter((w) => w !== '');
  if (words[0] === '-S') words.shift();
  const env: Record<string, string> = {};
  let word = words.shift();
  for (; word !== undefined; word = words.shift()) {
    const a = ENV_ASSIGNMENT.exec(word);
    if (a?.[1] === undefined || a[2] === undefined) break;
    env[a[1]] = a[2];
  }
  if (word !== 'node') return undefined;
  return { env, flags: words };
}

/**
 * The shell form of a command, as in `npm start` or a README: `NAME=value node --flag <script>`. With
 * `exec`, the shell replaces itself with node (`NAME=value exec node …`): `npm start` then signals the
 * server itself, not a `sh -c` wrapper that would die and leave node running (a supervisor's SIGTERM).
 */
export function shellCommand(cmd: NodeCommand, node: string, script: string, exec = false): string {
  const env = Object.entries(cmd.env).map(([k, v]) => `${k}=${v}`);
  return [...env, ...(exec ? ['exec'] : []), node, ...cmd.flags, script].join(' ');
}
