/**
 * Certificates for TLS tests, made with the openssl command line in a temporary folder: a CA, a server
 * certificate for 127.0.0.1/localhost signed by it, a client certificate signed by it, and a self-signed
 * server certificate.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly selfSignedCert: string;
  readonly selfSignedKey: string;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

const SUBJECT_ALT = 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost';

function selfSigned(dir: string, name: string, subject: string, extra: string[]): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
    ].concat(['-out', `${name}.pem`], extra),
    dir,
  );
}

function signedBy(dir: string, name: string, subject: string, ext: string): void {
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ],
    dir,
  );
  const extFile = join(dir, `${name}.ext`);
  execFileSync('sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', ext, extFile]);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
    ].concat(['-extfile', extFile, '-out', `${name}.pem`]),
    dir,
  );
}

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'almanac-tls-'));
  selfSigned(dir, 'ca', '/CN=Almanac Test CA', ['-addext', 'basicConstraints=critical,CA:TRUE']);
  signedBy(dir, 'server', '/CN=localhost', SUBJECT_ALT);
  signedBy(dir, 'client', '/CN=test-client', 'extendedKeyUsage=clientAuth');
  selfSigned(dir, 'self', '/CN=localhost', ['-addext', SUBJECT_ALT]);
  const p = (f: string): string => join(dir, f);
  return {
    dir,
    caCert: p('ca.pem'),
    caKey: p('ca.key'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    selfSignedCert: p('self.pem'),
    selfSignedKey: p('self.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
