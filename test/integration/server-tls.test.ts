import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, type RequestOptions } from 'node:https';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';
import { startTestServer } from './server-support.js';

let certs: TestCertificates;
before(() => {
  certs = makeTestCertificates();
});
after(() => certs.cleanup());

function httpsGet(
  port: number,
  path: string,
  opts: RequestOptions,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, ...opts }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

void test('TLS with a self-signed certificate', async () => {
  const t = await startTestServer({
    server: { ssl: true, certificate: certs.selfSignedCert, key: certs.selfSignedKey },
  });
  try {
    const res = await httpsGet(t.port, '/whoami', { ca: readFileSync(certs.selfSignedCert) });
    assert.equal(res.status, 200);
    const ctx = JSON.parse(res.body) as { secure: boolean; clientCertVerified: boolean };
    assert.equal(ctx.secure, true);
    assert.equal(ctx.clientCertVerified, false);
    // A client that does not trust the certificate refuses it.
    await assert.rejects(httpsGet(t.port, '/', {}), /self[- ]signed/i);
  } finally {
    await t.server.close();
  }
});

void test('certificate_authority: a client certificate signed by the CA is required', async () => {
  const t = await startTestServer({
    server: {
      ssl: true,
      certificate: certs.serverCert,
      key: certs.serverKey,
      certificate_authority: certs.caCert,
    },
  });
  try {
    const ca = readFileSync(certs.caCert);
    await assert.rejects(httpsGet(t.port, '/', { ca }), /certificate required/);
    // A certificate from another issuer (self-signed) is refused too.
    await assert.rejects(
      httpsGet(t.port, '/', {
        ca,
        cert: readFileSync(certs.selfSignedCert),
        key: readFileSync(certs.selfSignedKey),
      }),
    );
    const res = await httpsGet(t.port, '/whoami', {
      ca,
      cert: readFileSync(certs.clientCert),
      key: readFileSync(certs.clientKey),
    });
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as { clientCertVerified: boolean }).clientCertVerified, true);
    // Each refused handshake is logged with the client's address.
    const refused = t.logLines.filter((l) => l.includes('TLS handshake with'));
    assert.equal(refused.length, 2, t.logLines.join(''));
    for (const line of refused) assert.match(line, /TLS handshake with 127\.0\.0\.1:\d+ failed: /);
  } finally {
    await t.server.close();
  }
});

void test('protocol restricts the TLS versions', async () => {
  const t = await startTestServer({
    server: {
      ssl: true,
      certificate: certs.serverCert,
      key: certs.serverKey,
      protocol: 'ALL -SSLv3 -TLSv1 -TLSv1.1 -TLSv1.2',
    },
  });
  try {
    const ca = readFileSync(certs.caCert);
    await assert.rejects(httpsGet(t.port, '/', { ca, maxVersion: 'TLSv1.2' }));
    assert.equal((await httpsGet(t.port, '/', { ca, minVersion: 'TLSv1.3' })).status, 200);
  } finally {
    await t.server.close();
  }
});

void test('missing or bad certificate files are clear start-up errors naming the file', async () => {
  const missing = join(certs.dir, 'nonexistent.pem');
  await assert.rejects(
    startTestServer({ server: { ssl: true, certificate: missing, key: certs.serverKey } }),
    (err: Error) => err.message.includes('certificate') && err.message.includes(missing),
  );
  const garbage = join(certs.dir, 'garbage.pem');
  writeFileSync(garbage, 'not a key\n');
  await assert.rejects(
    startTestServer({ server: { ssl: true, certificate: certs.serverCert, key: garbage } }),
    (err: Error) => err.message.includes('key') && err.message.includes(garbage),
  );
  await assert.rejects(
    startTestServer({ server: { ssl: true, certificate: garbage, key: certs.serverKey } }),
    (err: Error) => err.message.includes('certificate') && err.message.includes(garbage),
  );
  await assert.rejects(
    startTestServer({ server: { ssl: true, certificate: certs.serverCert, key: certs.selfSignedKey } }),
    /certificate .* key/,
  );
  await assert.rejects(
    startTestServer({
      server: { ssl: true, certificate: certs.serverCert, key: certs.serverKey, ciphersuite: 'NO-SUCH' },
    }),
    /ciphersuite 'NO-SUCH'/,
  );
});
