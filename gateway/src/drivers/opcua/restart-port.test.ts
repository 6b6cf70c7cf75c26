import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pickPort, portsOutsideEphemeral, PORT_RANGE_FILE, restartablePort, restartOn } from './restart-port.ts';

test('the restartable ports are both ends outside the ephemeral range, from 10000 up', () => {
  assert.deepEqual(portsOutsideEphemeral('32768\t60999\n'), [
    [10_000, 32_767],
    [61_000, 65_535],
  ]);
  assert.deepEqual(portsOutsideEphemeral('49152 65535'), [[10_000, 49_151]], 'nothing above a range that ends at 65535');
  assert.deepEqual(portsOutsideEphemeral('10500 60000'), [[60_001, 65_535]], 'a low end near 10000 leaves only the high stretch, no fallback into the range');
  assert.deepEqual(portsOutsideEphemeral('1024 4999'), [[10_000, 65_535]], 'a range below 10000 leaves everything');
});

test('an ephemeral range that leaves (nearly) no port outside it, or cannot be read, is an error naming the file', () => {
  for (const text of ['1024 65535', '10500 65000', '', 'garbage', '60999 32768']) {
    assert.throws(() => portsOutsideEphemeral(text), (err: Error) => err.message.startsWith(PORT_RANGE_FILE), JSON.stringify(text));
  }
});

test('a port is picked across both stretches as if they were one, never from the gap between them', () => {
  const stretches = portsOutsideEphemeral('32768 60999');
  const size = 32_767 - 10_000 + 1;
  const total = size + 65_535 - 61_000 + 1;
  assert.equal(pickPort(stretches, () => 0), 10_000);
  assert.equal(pickPort(stretches, () => (size - 1) / total), 32_767);
  assert.equal(pickPort(stretches, () => size / total), 61_000);
  assert.equal(pickPort(stretches, () => 1 - Number.EPSILON), 65_535);
  for (let i = 0; i < 1000; i++) {
    const port = pickPort(stretches);
    assert.ok(port >= 10_000 && port <= 65_535 && (port < 32_768 || port > 60_999), String(port));
  }
});

test('restartablePort() gives a free port outside the range it is given', async () => {
  const port = await restartablePort('20000 60000');
  assert.ok((port >= 10_000 && port < 20_000) || port > 60_000, String(port));
});

test('a machine whose ephemeral range leaves no room still gets a free port, the kernel\'s, and a warning naming the file', async (t) => {
  const said: string[] = [];
  t.mock.method(process.stderr, 'write', (s: string) => {
    said.push(s);
    return true;
  });
  const port = await restartablePort('10000 65535');
  t.mock.restoreAll();
  assert.ok(port > 0 && port <= 65_535, String(port));
  assert.equal(said.length, 1);
  assert.match(said[0]!, new RegExp(`^restartablePort: ${PORT_RANGE_FILE.replaceAll('/', '\\/')}`));
});

test('a server that cannot come back because its port was taken says which port, and that it came from restartablePort()', async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen({ port: 0, host: '127.0.0.1' }, () => r()));
  try {
    const port = (taken.address() as net.AddressInfo).port;
    const listen = () =>
      new Promise<net.Server>((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(s));
      });
    await assert.rejects(restartOn(port, listen), (err: Error) => {
      assert.match(err.message, new RegExp(`^port ${port} \\(from restartablePort\\(\\).*EADDRINUSE`));
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
      return true;
    });
    const other = new Error('boom');
    await assert.rejects(restartOn(port, () => Promise.reject(other)), (err) => err === other, 'other errors pass unchanged');
  } finally {
    taken.close();
  }
});
