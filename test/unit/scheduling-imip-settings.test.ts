/**
 * Which SMTP settings iMIP uses (src/caldav/scheduling/imip-smtp.ts): [scheduling]'s own, or all of
 * [hook]'s when its smtp_server is empty, none with `none`, and why a configuration sends no mail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { imipSettings } from '../../src/caldav/scheduling/imip-smtp.js';

type Sections = Record<string, Record<string, string>>;

function settings(args: Sections): ReturnType<typeof imipSettings> {
  const { config } = loadConfig({ paths: [''], args, env: { HOME: '/nonexistent' } });
  return imipSettings(config);
}

const HOOK = {
  smtp_server: 'hook.example.org',
  smtp_port: '2525',
  smtp_security: 'starttls',
  smtp_ssl_verify_mode: 'OPTIONAL',
  smtp_username: 'hookuser',
  smtp_password: 'hookpw',
  from_email: 'hook@example.org',
};

describe('iMIP SMTP settings', () => {
  it('an empty [scheduling] smtp_server takes the whole connection and from_email from [hook]', () => {
    const s = settings({ hook: HOOK, scheduling: { enabled: 'True' } });
    assert.ok(s && 'options' in s);
    assert.deepEqual(s.options.smtp, {
      server: 'hook.example.org',
      port: '2525',
      security: 'starttls',
      verifyMode: 'OPTIONAL',
      username: 'hookuser',
      password: 'hookpw',
    });
    assert.equal(s.options.fromEmail, 'hook@example.org');
    assert.equal(s.options.maxPerHour, 60);
    assert.equal(s.options.timeoutMs, 10_000);
  });

  it("its own smtp_server: nothing of [hook]'s connection (no login sent elsewhere), from_email may fall back", () => {
    const s = settings({
      hook: HOOK,
      scheduling: { enabled: 'True', smtp_server: 'mail.example.org', max_mails_per_hour: '5' },
    });
    assert.ok(s && 'options' in s);
    assert.deepEqual(s.options.smtp, {
      server: 'mail.example.org',
      port: '',
      security: 'none',
      verifyMode: 'REQUIRED',
      username: '',
      password: '',
    });
    assert.equal(s.options.fromEmail, 'hook@example.org');
    assert.equal(s.options.maxPerHour, 5);
  });

  it('none, or no server anywhere: no mail; no from_email or a bad port: a problem', () => {
    assert.equal(settings({ hook: HOOK, scheduling: { smtp_server: 'none' } }), undefined);
    assert.equal(settings({ scheduling: { enabled: 'True' } }), undefined);
    const noFrom = settings({ scheduling: { smtp_server: 'mail.example.org' } });
    assert.ok(noFrom && 'problem' in noFrom);
    assert.match(noFrom.problem, /from_email/);
    const badPort = settings({
      scheduling: { smtp_server: 'mail.example.org', smtp_port: 'x25', from_email: 'c@example.org' },
    });
    assert.ok(badPort && 'problem' in badPort);
    assert.match(badPort.problem, /\[scheduling\] smtp_port/);
  });
});
