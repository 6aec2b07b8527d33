// The one place that turns errors into HTTP answers: what a client and the log get for each kind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryLogger } from '../helpers/logger.js';
import { toDavError } from '../../src/http/respond-error.js';
import { StorageError } from '../../src/storage/types.js';

function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path });
}

describe('toDavError', () => {
  it('a file the server may not read is a 403 and a log line naming it, not a 500', () => {
    for (const code of ['EACCES', 'EPERM', 'EROFS']) {
      const { log, lines } = memoryLogger();
      const e = toDavError(errno(code, 'open', '/srv/cal/collection-root/alice/cal/x.ics'), log);
      assert.equal(e.status, 403, code);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] ?? '', /cannot open \/srv\/cal\/collection-root\/alice\/cal\/x\.ics/);
      assert.match(lines[0] ?? '', /needs access to the storage folder/);
      assert.doesNotMatch(lines[0] ?? '', /internal error/);
    }
  });

  it('a full disk is a 507; storage errors keep their status; anything else a logged 500', () => {
    const { log, lines } = memoryLogger();
    assert.equal(toDavError(errno('ENOSPC', 'write', '/srv/x'), log).status, 507);
    assert.equal(toDavError(new StorageError('not-found', 'no such item'), log).status, 404);
    assert.equal(toDavError(new StorageError('not-permitted', 'read-only'), log).status, 403);
    assert.equal(lines.length, 0);
    assert.equal(toDavError(new TypeError('bug'), log).status, 500);
    assert.match(lines[0] ?? '', /internal error/);
  });
});
