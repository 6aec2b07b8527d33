/**
 * TLS settings from `[server]`: certificate/key/CA files (each checked on its own so a start-up error names
 * the faulty file), Apache `SSLProtocol` syntax mapped to Node's min/max version, and the cipher string.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { createSecureContext, type SecureVersion, type TlsOptions, type TLSSocket } from 'node:tls';

/** Protocols in order; Node can only enable a contiguous range of them. SSLv3 is not available in Node. */
const PROTOCOLS = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type Protocol = (typeof PROTOCOLS)[number];

export interface ProtocolRange {
  readonly minVersion: SecureVersion;
  readonly maxVersion: SecureVersion;
}

function protocolByName(name: string): Protocol[] {
  if (name.toLowerCase() === 'all') return [...PROTOCOLS];
  const found = PROTOCOLS.find((p) => p.toLowerCase() === name.toLowerCase());
  if (!found)
    throw new Error(
      `[server] protocol: unknown protocol '${name}' (use SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3, ALL)`,
    );
  return [found];
}

/**
 * Parses `ALL -SSLv3 -TLSv1 -TLSv1.1`, `+TLSv1.2 +TLSv1.3`, `TLSv1.3`... as Apache does: `+X` adds, `-X`
 * removes, a bare name replaces the set built so far. Returns undefined for an empty string (Node's
 * defaults). Throws when the result is empty or has a gap Node cannot express.
 */
export function parseProtocol(spec: string): ProtocolRange | undefined {
  const tokens = spec.split(/\s+/).filter((t) => t !== '');
  if (tokens.length === 0) return undefined;
  const enabled = new Set<Protocol>();
  for (const token of tokens) {
    const action = token[0] === '+' || token[0] === '-' ? token[0] : '=';
    const names = protocolByName(action === '=' ? token : token.slice(1));
    if (action === '=') enabled.clear();
    for (const name of names) {
      if (action === '-') enabled.delete(name);
      else enabled.add(name);
    }
  }
  // SSLv3 cannot be enabled in Node; it is simply left out (it is insecure anyway).
  enabled.delete('SSLv3');
  const indexes = [...enabled].map((p) => PROTOCOLS.indexOf(p)).sort((a, b) => a - b);
  const first = indexes[0];
  const last = indexes[indexes.length - 1];
  if (first === undefined || last === undefined) {
    throw new Error(`[server] protocol '${spec}' enables no protocol that Node supports (TLSv1 to TLSv1.3)`);
  }
  if (last - first + 1 !== indexes.length) {
    throw new Error(
      `[server] protocol '${spec}' enables ${indexes.map((i) => PROTOCOLS[i]).join(', ')}: ` +
        'only a contiguous range of versions is possible',
    );
  }
  return { minVersion: PROTOCOLS[first] as SecureVersion, maxVersion: PROTOCOLS[last] as SecureVersion };
}

/** The `[server]` options used for TLS. */
export type TlsSettings = Pick<
  Config['server'],
  'certificate' | 'key' | 'certificate_authority' | 'protocol' | 'ciphersuite'
>;

async function readPem(option: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new Error(`[server] ${option}: cannot read '${path}': ${(err as Error).message}`, { cause: err });
  }
}

function check(option: string, path: string, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    throw new Error(`[server] ${option}: '${path}' is not a valid ${what}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Builds the options of `https.createServer`; throws a clear start-up error naming a bad file or option. */
export async function buildTlsOptions(server: TlsSettings): Promise<TlsOptions> {
  const cert = await readPem('certificate', server.certificate);
  const key = await readPem('key', server.key);
  check('certificate', server.certificate, 'PEM certificate', () => new X509Certificate(cert));
  check('key', server.key, 'unencrypted PEM private key', () => createPrivateKey(key));
  const options: TlsOptions = { cert, key };
  if (server.certificate_authority !== '') {
    const ca = await readPem('certificate_authority', server.certificate_authority);
    check(
      'certificate_authority',
      server.certificate_authority,
      'PEM certificate',
      () => new X509Certificate(ca),
    );
    Object.assign(options, { ca, requestCert: true, rejectUnauthorized: true });
  }
  const range = parseProtocol(server.protocol);
  if (range) Object.assign(options, range);
  if (server.ciphersuite.trim() !== '') options.ciphers = server.ciphersuite.trim();
  try {
    createSecureContext(options);
  } catch (err) {
    const msg = (err as Error).message;
    const hint = /cipher/i.test(msg)
      ? `[server] ciphersuite '${server.ciphersuite}'`
      : `[server] certificate '${server.certificate}' / key '${server.key}'`;
    throw new Error(`${hint}: ${msg}`, { cause: err });
  }
  return options;
}

/** A client certificate was presented and verified (only possible with certificate_authority set). */
export function clientCertVerified(socket: TLSSocket): boolean {
  if (!socket.authorized) return false;
  const peer = socket.getPeerCertificate();
  return Object.keys(peer).length > 0;
}
