#!/usr/bin/env node
/**
 * kedge-ota: the maintainers' side of OTA updates (gateway/src/ota/README.md).
 *   keygen | build | verify | push | status --fleet | rollout --percent N
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { readBundleManifest } from '@kedge/gateway/ota/bundle.ts';
import { keyFingerprint, parsePrivateKey } from '@kedge/gateway/ota/verify.ts';
import { buildBundle, rootVersion } from './build.ts';
import { collectFleet, formatFleet, rollout } from './fleet.ts';
import { generateKey, writeKey } from './keys.ts';
import { progressBar } from './progress.ts';
import { push } from './push.ts';
import { verifyBundle } from './verify-bundle.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const out = (s: string) => process.stdout.write(`${s}\n`);

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

const program = new Command('kedge-ota').description('kedge OTA updates: signed bundles, push to one gateway, fleet status, staged rollouts');
program.showHelpAfterError();

program
  .command('keygen')
  .description('create an Ed25519 signing key: <out>.key (keep secret) and <out>.pub; prints the gateway config snippet')
  .requiredOption('-o, --out <base>', 'path without extension')
  .option('--id <id>', 'key id (default: fingerprint of the public key)')
  .action(async (o: { out: string; id?: string }) => {
    const k = generateKey(o.id);
    out(await writeKey(o.out, k));
  });

program
  .command('build')
  .description('pack the runtime files of this repo into a signed bundle')
  .requiredOption('-k, --key <file>', 'private key (PEM) from keygen')
  .requiredOption('-o, --out <file>', 'bundle to write (.tar.gz)')
  .option('--version <semver>', 'release version (default: root package.json)')
  .option('--min-previous <semver>', 'oldest version allowed to update to this one', '0.0.0')
  .option('--key-id <id>', 'key id (default: fingerprint of the key)')
  .option('--root <dir>', 'repo root', REPO_ROOT)
  .option('--node-modules', 'ship node_modules (default only when building on linux/arm64)')
  .option('--no-node-modules', 'never ship node_modules: the box rebuilds them')
  .action(async (o: { key: string; out: string; version?: string; minPrevious: string; keyId?: string; root: string; nodeModules?: boolean }) => {
    const m = await buildBundle({
      root: o.root,
      out: resolve(o.out),
      privateKeyPem: await readFile(o.key, 'utf8'),
      keyId: o.keyId,
      version: o.version ?? (await rootVersion(o.root)),
      minPreviousVersion: o.minPrevious,
      nodeModules: o.nodeModules,
    });
    const size = (await stat(o.out)).size;
    out(`${o.out}: version ${m.version}, ${m.files.length} files, ${size} bytes, sha256 ${await sha256(o.out)}`);
    out(`the release starts its daemon with: node ${m.entry.join(' ')}${m.entry.includes('tsx') ? ' (no dist/: run npm run build first to ship compiled JavaScript)' : ''}`);
    out(m.rebuild ? `node_modules not included: the gateway runs "${m.rebuild.command.join(' ')}" in the new slot` : 'node_modules included');
  });

program
  .command('verify')
  .description('check a bundle: signature with the given public key, every file hash')
  .argument('<bundle>')
  .requiredOption('-p, --pub <file>', 'public key (PEM or base64 raw)')
  .option('--key-id <id>', 'expected key id (default: fingerprint of the key)')
  .action(async (bundle: string, o: { pub: string; keyId?: string }) => {
    out(await verifyBundle(bundle, await readFile(o.pub, 'utf8'), o.keyId));
  });

program
  .command('push')
  .description("offer a bundle to one gateway through its local API and follow the install")
  .requiredOption('--to <url>', 'gateway API, e.g. https://10.20.0.15:8080')
  .requiredOption('--bundle <file>')
  .requiredOption('--user <name>')
  .option('--password <password>', 'default: $KEDGE_PASSWORD')
  .option('--advertise-host <host>', 'address the gateway reaches this machine at (default: detected)')
  .option('--ca <file>', 'CA certificate of the gateway API')
  .option('--insecure', "accept the gateway's self-signed certificate")
  .action(async (o: { to: string; bundle: string; user: string; password?: string; advertiseHost?: string; ca?: string; insecure?: boolean }) => {
    const password = o.password ?? process.env.KEDGE_PASSWORD;
    if (!password) throw new Error('--password or KEDGE_PASSWORD is required');
    const r = await push({
      to: o.to,
      bundle: o.bundle,
      user: o.user,
      password,
      advertiseHost: o.advertiseHost,
      ca: o.ca ? await readFile(o.ca) : undefined,
      insecure: o.insecure,
      onProgress: progressBar('upload'),
      log: out,
    });
    out(`${r.version}: ${r.state} (${r.message})`);
  });

const broker = (c: Command) =>
  c
    .requiredOption('--broker <url>', 'regional MQTT broker, e.g. mqtts://broker:8883')
    .option('--prefix <prefix>', 'topic prefix', 'kedge/v1')
    .option('--username <name>')
    .option('--password <password>')
    .option('--wait-ms <ms>', 'how long to collect retained status messages', '2000');
type BrokerOpts = { broker: string; prefix: string; username?: string; password?: string; waitMs: string };
const brokerOptions = (o: BrokerOpts) => ({ url: o.broker, prefix: o.prefix, username: o.username, password: o.password, waitMs: Number(o.waitMs) });

broker(program.command('status').description('versions and update states of the gateways').option('--fleet', 'all gateways (from their retained status messages)')).action(
  async (o: BrokerOpts & { fleet?: boolean }) => {
    if (!o.fleet) throw new Error('only --fleet is supported: for one gateway use its web UI or GET /api/ota/status');
    const fleet = await collectFleet(brokerOptions(o));
    out(fleet.length === 0 ? 'no gateways have published a status' : formatFleet(fleet));
  },
);

broker(
  program
    .command('rollout')
    .description('publish a retained offer to a stable N % of the known gateways; repeat with a higher N to widen')
    .requiredOption('--percent <n>', '0..100')
    .requiredOption('--bundle <file>', 'the bundle (for its version, size and sha256)')
    .requiredOption('--url <url>', 'where gateways download it (HTTP(S) with Range support)')
    .option('-k, --key <file>', 'OTA private key (PEM) that signs one offer per gateway; needed unless --manifest-url is given')
    .option('--key-id <id>', 'key id (default: fingerprint of the key)')
    .option('--manifest-url <url>', 'where its manifest.json is: the gateway verifies it before downloading (lets an unsigned offer through)'),
).action(async (o: BrokerOpts & { percent: string; bundle: string; url: string; key?: string; keyId?: string; manifestUrl?: string }) => {
  const manifest = await readBundleManifest(o.bundle);
  const key = o.key ? parsePrivateKey(await readFile(o.key, 'utf8')) : null;
  const r = await rollout({
    ...brokerOptions(o),
    percent: Number(o.percent),
    ...(key ? { signer: { keyId: o.keyId ?? keyFingerprint(key), privateKey: key } } : {}),
    offer: { version: manifest.version, url: o.url, sha256: await sha256(o.bundle), size: (await stat(o.bundle)).size, ...(o.manifestUrl ? { manifestUrl: o.manifestUrl } : {}) },
  });
  out(`offered ${manifest.version} to ${r.selected.length} of ${r.total} gateways (${o.percent}%):`);
  for (const e of r.selected) out(`  ${e.region}/${e.municipality}/${e.gateway} (now ${e.version ?? '?'})`);
});

try {
  await program.parseAsync();
} catch (err) {
  process.stderr.write(`kedge-ota: ${(err as Error).message}\n`);
  process.exit(1);
}
