// A client that shuts its sending side once its request is out (shutdown(SHUT_WR): `nc -N`, scripts,
// some proxies) still gets its answer, over plain HTTP and over TLS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';
import { RawClient, startTestServer } from './server-support.js';

let certs: TestCertificates;
before(() => {
  certs = makeTestCertificates();
});
after(() => certs.cleanup());

void test('a request followed by FIN is answered, even when the answer comes later', async () => {
  const t = await startTestServer();
  try {
    for (const request of [
      'GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n',
      'PUT /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
    ]) {
      const client = await RawClient.open(t.port);
      client.write(request);
      client.socket.end(); // FIN: nothing more will be sent
      await client.closed;
      const statuses = client.received.match(/^HTTP\/1\.1 \d+/gm) ?? [];
      const expected = request.match(/ HTTP\/1\.1\r\n/g)?.length ?? 0;
      assert.equal(statuses.length, expected, `${JSON.stringify(request)}: ${client.received}`);
      for (const s of statuses) assert.equal(s, 'HTTP/1.1 200');
      if (request.includes('hello')) assert.match(client.received, /got 5/);
    }
  } finally {
    await t.server.close();
  }
});

void test('over TLS too', async () => {
  const t = await startTestServer({
    server: { ssl: true, certificate: certs.selfSignedCert, key: certs.selfSignedKey },
  });
  try {
    const received = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port: t.port, ca: readFileSync(certs.selfSignedCert), servername: 'localhost' },
        () => {
          socket.write('GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n');
          socket.end();
        },
      );
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (data += d));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    assert.match(received, /^HTTP\/1\.1 200/);
    assert.match(received, /ok$/);
  } finally {
    await t.server.close();
  }
});
