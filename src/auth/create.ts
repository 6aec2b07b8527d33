/** Builds the [auth] backend chosen by `type` and wraps it in the login pipeline. */
import type { Logger } from 'pino';
import { loadPluginFactory } from '../config/plugin.js';
import type { Config } from '../config/schema.js';
import { DENIED_BY_CONFIG, FAILED, type BackendResult, type PasswordBackend } from './backend.js';
import { createDovecotBackend } from './backends/dovecot.js';
import { createImapBackend } from './backends/imap.js';
import { createLdapBackend } from './backends/ldap.js';
import { createOauth2Backend } from './backends/oauth2.js';
import { createPamBackend } from './backends/pam.js';
import { LoginCache } from './cache.js';
import { FailureDelay } from './delay.js';
import { externalLogin } from './external.js';
import { identityHeader } from './header-auth.js';
import { createGroupSource } from './groups/create.js';
import { createHtpasswdBackend } from './htpasswd/backend.js';
import { basicLogin } from './login.js';
import { LoginThrottle, type ThrottleOptions } from './throttle.js';
import type { Auth } from './types.js';
import type { UsernameOptions } from './username.js';

/** Test seams; production uses the defaults. */
export interface AuthTestOptions {
  readonly now?: () => number;
  readonly random?: () => number;
  readonly throttle?: Partial<ThrottleOptions>;
}

export async function createAuth(config: Config, log: Logger, test: AuthTestOptions = {}): Promise<Auth> {
  const a = config.auth;
  if (a.lc_username && a.uc_username)
    throw new Error('[auth] lc_username and uc_username are mutually exclusive');
  const now = test.now ?? Date.now;
  const delay = new FailureDelay(a.delay, test.random);
  const username: UsernameOptions = {
    lc_username: a.lc_username,
    uc_username: a.uc_username,
    urldecode_username: a.urldecode_username,
    strip_domain: a.strip_domain,
    policy: config.server.validate_user_value,
  };
  const groups = await createGroupSource(config, log);
  const realm = a.realm;
  const deniedDelayMs = () => delay.randomDelayMs();

  const header = identityHeader(a.type)?.toLowerCase();
  if (header !== undefined) {
    const pipeline = { header, username, delay, groups, log };
    return {
      style: 'external',
      realm,
      authenticate: (req) => externalLogin(pipeline, req),
      deniedDelayMs,
      groups,
      close: () => Promise.resolve(),
    };
  }

  const backend = await createBackend(config, log);
  if ('authenticate' in backend) return backend;
  const cache = a.cache_logins
    ? new LoginCache(a.cache_successful_logins_expiry, a.cache_failed_logins_expiry, now)
    : undefined;
  const pipeline = {
    backend,
    username,
    charset: config.encoding.request,
    cache,
    throttle: new LoginThrottle({ now, ...test.throttle }),
    delay,
    groups,
    now,
    log,
    remoteIpSource:
      a.remote_ip_source === 'X-Remote-Addr' ? ('X-Remote-Addr' as const) : ('REMOTE_ADDR' as const),
  };
  return {
    style: 'basic',
    realm,
    authenticate: (req) => basicLogin(pipeline, req),
    deniedDelayMs,
    groups,
    close: () => backend.close(),
  };
}

async function createBackend(config: Config, log: Logger): Promise<PasswordBackend | Auth> {
  const a = config.auth;
  switch (a.type) {
    case 'none':
      // Everyone is who they claim to be, whatever the password.
      return { cacheable: false, login: () => Promise.resolve({ ok: true }), close: () => Promise.resolve() };
    case 'denyall':
      return {
        cacheable: false,
        login: () => Promise.resolve(DENIED_BY_CONFIG),
        close: () => Promise.resolve(),
      };
    case 'htpasswd':
      return createHtpasswdBackend(
        {
          filename: a.htpasswd_filename,
          encryption: a.htpasswd_encryption,
          cache: a.htpasswd_cache,
          encoding: config.encoding.stock,
        },
        log,
      );
    case 'ldap':
      return createLdapBackend(config, log);
    case 'imap':
      return createImapBackend(config, log);
    case 'oauth2':
      return createOauth2Backend(config, log);
    case 'pam':
      return createPamBackend(config, log);
    case 'dovecot':
      return createDovecotBackend(config, log);
    default:
      return loadAuthPlugin(a.type, config, log);
  }
}

/**
 * A plugin is a module (path or package name) exporting `createAuth(config, log)`. It may return a whole
 * `Auth` (used as is) or a password checker `{ login(user, password, ctx), close?() }` whose result is a
 * boolean, a BackendResult or a replacement user name; that one gets the full pipeline (normalisation,
 * validation, cache, delay, throttling).
 */
async function loadAuthPlugin(spec: string, config: Config, log: Logger): Promise<PasswordBackend | Auth> {
  const createAuth = await loadPluginFactory('auth', spec, 'createAuth');
  const made = (await (createAuth as (c: Config, l: Logger) => unknown)(config, log)) as Record<
    string,
    unknown
  >;
  if (typeof made.authenticate === 'function') return made as unknown as Auth;
  const login = made.login;
  if (typeof login !== 'function') throw new Error(`[auth] plugin ${spec}: createAuth() returned no login()`);
  const close = made.close;
  return {
    cacheable: made.cacheable === true,
    async login(user, password, ctx): Promise<BackendResult> {
      const r: unknown = await (login as (user: string, password: string, context: unknown) => unknown).call(
        made,
        user,
        password,
        ctx,
      );
      if (r === true) return { ok: true };
      if (typeof r === 'string' && r !== '') return { ok: true, user: r };
      if (typeof r === 'object' && r !== null && (r as { ok?: unknown }).ok === true)
        return r as BackendResult;
      return FAILED;
    },
    close: async () => {
      if (typeof close === 'function') await (close as () => unknown).call(made);
    },
  };
}
