import test from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { startOpcuaSim, type OpcuaSim } from '@kedge/testkit/sim/opcua-sim.ts';
import { waitFor } from '@kedge/testkit/wait.ts';
import { OpcuaDevice } from './opcua-device.ts';
import { ownCertificateFile, pkiFolder } from './pki.ts';
import { opcuaDataDir, opcuaDevice, SampleLog } from './test-support.ts';

/** A refused session is retried after a backoff of a few seconds; generous for a loaded machine. */
const RETRY_WAIT_MS = 30_000;

// A server that offers only signed and encrypted endpoints and refuses anonymous sessions.
let sim: OpcuaSim;
let root: string;
const drivers: OpcuaDevice[] = [];
const seeded: string[] = [];

test.before(async () => {
  root = mkdtempSync(join(tmpdir(), 'kedge-opcua-sec-'));
  sim = await startOpcuaSim({ security: 'secure', users: [{ username: 'operator', password: 'correct-horse' }], allowAnonymous: false });
});

test.after(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await sim.stop();
  rmSync(root, { recursive: true, force: true });
  for (const dir of seeded) rmSync(dir, { recursive: true, force: true });
});

/**
 * A gateway data folder; `trustServer` copies the server's certificate into its PKI, as a
 * technician would. `empty`: the driver makes its own key and certificate there; otherwise the
 * folder is seeded with the client key the driver would make (opcuaDataDir), which costs a test
 * more CPU than the rest of it.
 */
async function dataDirFor(name: string, trustServer: boolean, empty = false): Promise<string> {
  const dataDir = empty ? join(root, name) : await opcuaDataDir(`kedge-opcua-sec-${name}-`);
  if (!empty) seeded.push(dataDir);
  if (trustServer) {
    const trusted = join(pkiFolder(dataDir), 'trusted', 'certs');
    mkdirSync(trusted, { recursive: true });
    copyFileSync(sim.certificateFile, join(trusted, basename(sim.certificateFile)));
  }
  return dataDir;
}

function start(dataDir: string, device: Record<string, unknown>): { driver: OpcuaDevice; log: SampleLog } {
  const driver = new OpcuaDevice(
    opcuaDevice({
      endpointUrl: sim.endpointUrl,
      publishingIntervalMs: 100,
      timeoutMs: 3000,
      points: [
        { id: 'level', nodeId: sim.nodeId('Level') },
        { id: 'pump', nodeId: sim.nodeId('PumpRunning'), mode: 'poll' },
      ],
      ...device,
    }),
    { dataDir },
  );
  drivers.push(driver);
  const log = new SampleLog();
  driver.subscribe(log.sink);
  return { driver, log };
}

test('SignAndEncrypt with Basic256Sha256 and a username from a password file: values flow, certificates stay in the data folder', async () => {
  const dataDir = await dataDirFor('ok', true, true);
  // Where secrets may live (secrets.ts): the driver reads auth files through the confined reader.
  mkdirSync(join(dataDir, 'secrets'), { recursive: true });
  const passwordFile = join(dataDir, 'secrets', 'opcua-password');
  writeFileSync(passwordFile, 'correct-horse\n', { mode: 0o600 });
  const { driver, log } = start(dataDir, {
    securityMode: 'SignAndEncrypt',
    securityPolicy: 'Basic256Sha256',
    auth: { username: 'operator', passwordFile },
  });
  await waitFor(() => log.of('level').filter((s) => s.quality === 'good').length >= 2, { timeoutMs: 20_000, what: 'secure values' });
  assert.ok(log.all.every((s) => s.quality === 'good'), JSON.stringify(log.all.find((s) => s.quality !== 'good')));
  const r = await driver.poll(['pump']);
  assert.deepEqual([r.failed, r.samples[0]!.quality], [false, 'good']);
  assert.ok(existsSync(ownCertificateFile(dataDir)), 'the client certificate was created in <dataDir>/pki/opcua');
  assert.equal(ownCertificateFile(dataDir), join(dataDir, 'pki', 'opcua', 'own', 'certs', 'client_certificate.pem'));
});

test('Sign with Aes128_Sha256_RsaOaep and a client certificate as user identity', async () => {
  const dataDir = await dataDirFor('x509', true);
  // The user's own certificate and key, as an operator would get them from the plant's PKI.
  const userPki = new OPCUACertificateManager({ rootFolder: join(root, 'user-pki') });
  await userPki.initialize();
  mkdirSync(join(dataDir, 'secrets'), { recursive: true });
  const certificateFile = join(dataDir, 'secrets', 'user-cert.pem');
  const privateKeyFile = join(dataDir, 'secrets', 'user-key.pem');
  await userPki.createSelfSignedCertificate({
    applicationUri: 'urn:kedge:test-user',
    subject: '/CN=kedge test user',
    dns: [],
    startDate: new Date(Date.now() - 60_000),
    validity: 30,
    outputFile: certificateFile,
  });
  copyFileSync(userPki.privateKey, privateKeyFile);
  chmodSync(privateKeyFile, 0o600);
  const { driver, log } = start(dataDir, {
    securityMode: 'Sign',
    securityPolicy: 'Aes128_Sha256_RsaOaep',
    auth: { certificateFile, privateKeyFile },
  });
  await waitFor(() => log.of('level').some((s) => s.quality === 'good'), { timeoutMs: 20_000, what: 'values with a certificate identity' });
  assert.equal((await driver.poll(['pump'])).failed, false);
  await userPki.dispose();
});

test('a wrong password is a clear error and a bad_config quality, not a crash', async () => {
  const dataDir = await dataDirFor('wrong', true);
  const { driver, log } = start(dataDir, {
    securityMode: 'SignAndEncrypt',
    auth: { username: 'operator', password: 'wrong-horse' },
  });
  const outage = await waitFor(() => log.last('level'), { timeoutMs: 20_000, what: 'the refusal' });
  assert.equal(outage.quality, 'bad_config');
  assert.equal(outage.value, null);
  assert.match(outage.error!, new RegExp(`${sim.endpointUrl} rejected user "operator": check auth in the device config \\(.*Bad(UserAccessDenied|IdentityTokenRejected)`));
  const r = await driver.poll(['pump']);
  assert.equal(r.failed, true);
  assert.equal(r.samples[0]!.quality, 'bad_config');
  assert.match(r.error!, /rejected user "operator"/);
  // Retries do not repeat the outage sample: wait for a retry that was refused again (the
  // sample would be logged in the same step that counts it), then look.
  const refusedBefore = driver.failedConnects;
  await waitFor(() => driver.failedConnects > refusedBefore, { timeoutMs: RETRY_WAIT_MS, what: 'another refused connection attempt' });
  assert.equal(log.of('level').length, 1);
});

test("an untrusted server certificate is refused, and the error says which folder to move it to", async () => {
  const dataDir = await dataDirFor('untrusted', false);
  const { log } = start(dataDir, { securityMode: 'SignAndEncrypt', auth: { username: 'operator', password: 'correct-horse' } });
  const outage = await waitFor(() => log.last('level'), { timeoutMs: 20_000, what: 'the refusal' });
  assert.equal(outage.quality, 'bad_config');
  const pki = pkiFolder(dataDir);
  assert.ok(outage.error!.includes(`move it to ${join(pki, 'trusted', 'certs')}`), outage.error);
  await waitFor(() => existsSync(join(pki, 'rejected')) && readdirSync(join(pki, 'rejected')).length > 0, { what: 'the rejected server certificate' });
});
