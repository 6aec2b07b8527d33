/**
 * Reading a new password for `almanac user add|passwd`: from a terminal, typed twice without echo;
 * otherwise the first line of standard input (`echo secret | almanac user add alice`, or a file), so
 * scripts can set passwords without them ever being on a command line (which `ps` shows to everyone).
 */
import type { Readable, Writable } from 'node:stream';

export class PasswordInputError extends Error {}

interface TtyInput extends Readable {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

export interface PasswordIo {
  readonly input: TtyInput;
  /** Where prompts go (standard error, so standard output stays the command's result). */
  readonly prompt: Writable;
}

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const CTRL_U = '\u0015';
const BACKSPACES = new Set(['\u007f', '\b']);

/** One line typed on the terminal in raw mode: nothing is echoed, not even stars. */
function readHidden(io: PasswordIo, question: string): Promise<string> {
  const input = io.input;
  // Echo goes off before the prompt shows: what is typed after it is never on the screen.
  input.setRawMode?.(true);
  io.prompt.write(question);
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (err: Error | undefined): void => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      io.prompt.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(undefined);
        if (ch === CTRL_C || (ch === CTRL_D && typed === ''))
          return finish(new PasswordInputError('cancelled'));
        if (BACKSPACES.has(ch)) typed = Array.from(typed).slice(0, -1).join('');
        else if (ch === CTRL_U) typed = '';
        else if (ch >= ' ') typed += ch;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}

/** The first line of a non-terminal input (up to 64 KiB read). */
async function readFirstLine(input: Readable): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (/\r|\n/.test(text) || text.length > 65_536) break;
  }
  return text.split(/\r\n|\r|\n/, 1)[0] ?? '';
}

/** A new password for `user`: asked twice on a terminal, else the first line of the input. */
export async function readNewPassword(io: PasswordIo, user: string): Promise<string> {
  let password: string;
  if (io.input.isTTY === true) {
    password = await readHidden(io, `New password for ${user}: `);
    if (password !== '' && (await readHidden(io, 'Retype the new password: ')) !== password) {
      throw new PasswordInputError('the passwords do not match; nothing was changed');
    }
  } else {
    password = await readFirstLine(io.input);
  }
  if (password === '') throw new PasswordInputError('empty password; nothing was changed');
  return password;
}
