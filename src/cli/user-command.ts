/**
 * `almanac user …`: the users of `[auth] type = htpasswd`, in the file the server reads.
 *   almanac user add NAME | passwd NAME | remove NAME | list   [--scheme S] [-C FILE] [--section-option …]
 * The configuration is found as the server finds it (the same -C/--config, ALMANAC_CONFIG and flags);
 * without any config file, the first-run users file. New passwords are bcrypt hashes unless the
 * configuration's htpasswd_encryption says otherwise; they are asked twice on a terminal without echo,
 * or read from the first line of standard input, and never printed.
 */
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { ArgsError, parseArgs } from '../config/args.js';
import { ConfigError, loadConfig } from '../config/load.js';
import {
  WRITE_SCHEMES,
  badUserName,
  hashPassword,
  readHtpasswd,
  schemeOf,
  withUser,
  writeHtpasswd,
  writeSchemeFor,
  type WriteScheme,
} from '../auth/htpasswd/edit.js';
import { HtpasswdError } from '../auth/htpasswd/file.js';
import { dataHome, isFirstRun } from './first-run.js';
import { PasswordInputError, readNewPassword, type PasswordIo } from './password-input.js';

export const USER_USAGE = `usage:
  almanac user add NAME      add a user (the password is asked twice, or read from standard input)
  almanac user passwd NAME   set a new password
  almanac user remove NAME   remove a user
  almanac user list          list the user names
options:
  --scheme bcrypt|sha512|sha256|md5|plain
      how new passwords are stored [default: bcrypt, or [auth] htpasswd_encryption when not autodetect]
  -C, --config PATH, --<section>-<option> VALUE
      the configuration, as for the server; the file is its [auth] htpasswd_filename (without any
      config file: the first-run users file, ~/.local/share/almanac/users)
`;

class UsageError extends Error {}

export interface UserCommandIo extends PasswordIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

interface UsersFile {
  readonly path: string;
  readonly encryption: string;
  readonly encoding: string;
  readonly cachedLogins: boolean;
}

/** `--scheme` is ours; everything else is the server's own flags. */
function splitScheme(argv: readonly string[]): { scheme: WriteScheme | undefined; rest: string[] } {
  const rest: string[] = [];
  let scheme: WriteScheme | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg !== '--scheme' && !arg.startsWith('--scheme=')) {
      rest.push(arg);
      continue;
    }
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
    scheme = WRITE_SCHEMES.find((s) => s === value);
    if (scheme === undefined) throw new UsageError(`--scheme: one of ${WRITE_SCHEMES.join(', ')}`);
  }
  return { scheme, rest };
}

function usersFile(argv: readonly string[], env: NodeJS.ProcessEnv): UsersFile {
  const args = parseArgs(argv);
  const opts =
    args.configPaths !== undefined
      ? { paths: args.configPaths, args: args.values, env }
      : { args: args.values, env };
  const loaded = loadConfig(opts);
  const { auth, encoding, sources } = loaded.config;
  const cachedLogins = auth.cache_logins;
  if (isFirstRun(loaded, args.configPaths, env) && (sources['auth.type'] ?? 'default') === 'default') {
    return { path: join(dataHome(env), 'users'), encryption: 'autodetect', encoding: 'utf-8', cachedLogins };
  }
  if (auth.type !== 'htpasswd') {
    const where = sources['auth.type'] ?? 'default';
    throw new HtpasswdError(
      `[auth] type = ${auth.type} (${where === 'default' ? 'the default' : `from ${where}`}): ` +
        'the user commands manage the file of [auth] type = htpasswd (set it and htpasswd_filename)',
    );
  }
  return {
    path: auth.htpasswd_filename,
    encryption: auth.htpasswd_encryption,
    encoding: encoding.stock,
    cachedLogins,
  };
}

function nameArg(rest: string[], sub: string): string {
  const name = rest.shift();
  if (name === undefined || name.startsWith('-')) throw new UsageError(`${sub} needs a user name`);
  const bad = badUserName(name);
  if (bad !== undefined) throw new UsageError(bad);
  return name;
}

async function list(file: UsersFile, io: UserCommandIo): Promise<number> {
  const { entries, exists } = await readHtpasswd(file.path, file.encoding);
  if (!exists) {
    io.err(`almanac user: ${file.path} does not exist yet (almanac user add NAME creates it)\n`);
    return 1;
  }
  const width = Math.max(0, ...[...entries.keys()].map((n) => n.length));
  for (const [name, digest] of entries)
    io.out(`${name.padEnd(width)}  ${schemeOf(digest, file.encryption)}\n`);
  return 0;
}

async function change(
  sub: 'add' | 'passwd' | 'remove',
  name: string,
  scheme: WriteScheme | undefined,
  file: UsersFile,
  io: UserCommandIo,
): Promise<number> {
  const current = await readHtpasswd(file.path, file.encoding);
  const known = current.entries.has(name);
  if (sub === 'add' && known)
    throw new HtpasswdError(
      `${name} already exists in ${file.path} (almanac user passwd ${name} sets a new password)`,
    );
  if (sub !== 'add' && !known) throw new HtpasswdError(`no user ${name} in ${file.path}`);
  let digest: string | undefined;
  let how = '';
  if (sub !== 'remove') {
    const write = writeSchemeFor(file.encryption, scheme);
    digest = await hashPassword(write, await readNewPassword(io, name));
    how = write === 'plain' ? ' (stored as plain text: [auth] htpasswd_encryption = plain)' : ` (${write})`;
  }
  if (!current.exists) await mkdir(join(file.path, '..'), { recursive: true, mode: 0o700 });
  await writeHtpasswd(file.path, withUser(current.text, name, digest), file.encoding);
  const done = {
    add: `added ${name} to`,
    passwd: `changed the password of ${name} in`,
    remove: `removed ${name} from`,
  }[sub];
  io.out(`${done} ${file.path}${how}\n`);
  if (file.cachedLogins && sub !== 'add') {
    io.out(
      '[auth] cache_logins is on: a running server may accept the old password until its cached login expires\n',
    );
  }
  return 0;
}

/** Runs `almanac user <argv…>`; returns the exit status. */
export async function runUserCommand(argv: readonly string[], io: UserCommandIo): Promise<number> {
  const [sub, ...tail] = argv;
  try {
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help' || tail.includes('--help')) {
      (sub === undefined ? io.err : io.out)(USER_USAGE);
      return sub === undefined ? 2 : 0;
    }
    if (sub !== 'add' && sub !== 'passwd' && sub !== 'remove' && sub !== 'list')
      throw new UsageError(`unknown subcommand ${sub}`);
    const { scheme, rest } = splitScheme(tail);
    const name = sub === 'list' ? undefined : nameArg(rest, sub);
    const file = usersFile(rest, io.env ?? process.env);
    return name === undefined
      ? await list(file, io)
      : await change(sub as 'add' | 'passwd' | 'remove', name, scheme, file, io);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ArgsError) {
      io.err(`almanac user: ${e.message}\n${USER_USAGE}`);
      return 2;
    }
    if (e instanceof HtpasswdError || e instanceof ConfigError || e instanceof PasswordInputError) {
      io.err(`almanac user: ${e.message}\n`);
      return 1;
    }
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string') {
      io.err(`almanac user: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}
