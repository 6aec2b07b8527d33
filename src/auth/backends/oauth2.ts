/**
 * [auth] type = oauth2: the OAuth2 resource-owner password grant (RFC 6749 §4.3) against
 * oauth2_token_endpoint. A login succeeds when the endpoint answers 200 with an `access_token`.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { FAILED, type PasswordBackend } from '../backend.js';

const TIMEOUT_MS = 10_000;

export function createOauth2Backend(config: Config, log: Logger): Promise<PasswordBackend> {
  const {
    oauth2_token_endpoint: endpoint,
    oauth2_client_id: clientId,
    oauth2_client_secret: secret,
  } = config.auth;
  if (endpoint === '') return Promise.reject(new Error('[auth] type = oauth2 needs oauth2_token_endpoint'));
  return Promise.resolve({
    cacheable: true,
    async login(user, password) {
      const form = new URLSearchParams({
        grant_type: 'password',
        username: user,
        password,
        client_id: clientId,
      });
      if (secret !== '') form.set('client_secret', secret);
      try {
        const res = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: form.toString(),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        if (res.status !== 200) {
          await res.body?.cancel();
          return FAILED;
        }
        const body = (await res.json()) as { access_token?: unknown } | null;
        return typeof body?.access_token === 'string' && body.access_token !== '' ? { ok: true } : FAILED;
      } catch (err) {
        log.error({ err }, `oauth2: token request to ${endpoint} failed: ${String(err)}`);
        return FAILED;
      }
    },
    close: () => Promise.resolve(),
  });
}
