// A client that shuts its sending side once its request is out (shutdown(SHUT_WR): `nc -N`, scripts,
// some proxies) still gets its answer over plain HTTP. (Over TLS a half-close is the close_notify of a
// client that is done: Node's https server keeps no half-open sockets, and answering after it would keep
// every normal TLS connection open.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startTestServer } from './server-support.js';

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
