#!/usr/bin/env node
/**
 * kedge-cmd: the center's side of the command downlink (gateway/src/commands/README.md).
 * Signs a command with an Ed25519 key, publishes it to one gateway and prints its answer.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import mqtt from 'mqtt';
import { buildCommand, sendCommand } from '@kedge/cloud-sync/downlink/sender.ts';
import type { GatewayIdentity } from '@kedge/cloud-sync/topics.ts';
import { keyFingerprint, parsePrivateKey, rawPublicKey } from '@kedge/gateway/ota/verify.ts';

interface SendOpts {
  to: string;
  key: string;
  keyId?: string;
  url: string;
  prefix: string;
  timeout: number;
  expiresIn?: number;
  id?: string;
  username?: string;
  password?: string;
}

function target(to: string, prefix: string): GatewayIdentity {
  const parts = to.split('/');
  if (parts.length !== 3 || parts.some((p) => p === '')) {
    throw new InvalidArgumentError(`--to must be <region>/<municipality>/<gateway>, e.g. kuzbass/kemerovo/gw-01 (got "${to}")`);
  }
  const [region, municipality, gateway] = parts as [string, string, string];
  return { prefix, region, municipality, gateway };
}

async function send(kind: string, args: Record<string, unknown>, o: SendOpts): Promise<void> {
  const identity = target(o.to, o.prefix);
  const key = parsePrivateKey(readFileSync(o.key, 'utf8'));
  const envelope = buildCommand({
    kind,
    // Signed into the command, prefix included: the gateway named by --to under --prefix is the only one that acts on it.
    target: identity,
    args,
    keyId: o.keyId ?? keyFingerprint(key),
    sign: (bytes) => sign(null, bytes, key),
    ...(o.id ? { id: o.id } : {}),
    ...(o.expiresIn ? { expiresAt: Date.now() + o.expiresIn } : {}),
  });
  const client = await mqtt.connectAsync(o.url, { clean: true, username: o.username, password: o.password, reconnectPeriod: 0 });
  try {
    const response = await sendCommand(client, identity, kind, envelope, o.timeout);
    process.stdout.write(`${JSON.stringify(response, null, 2)}\n`);
    process.exitCode = response.ok ? 0 : 1;
  } finally {
    await client.endAsync();
  }
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return n;
};

/** JSON if it parses (numbers, true/false, quoted strings), the text otherwise. */
function parseValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

const program = new Command('kedge-cmd').description('send signed commands to kedge gateways over MQTT and wait for the answer');

program
  .command('keygen')
  .description('create an Ed25519 key pair: the private key file for kedge-cmd, the public key for commands.trustedKeys')
  .requiredOption('--out <file>', 'where to write the private key (PEM, mode 0600)')
  .action((o: { out: string }) => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(o.out, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
    const id = keyFingerprint(publicKey);
    process.stdout.write(
      `private key: ${o.out}\nadd to the gateway config:\ncommands:\n  trustedKeys:\n    - id: ${id}\n      publicKey: ${rawPublicKey(publicKey).toString('base64')}\n`,
    );
  });

function withSendOptions(c: Command): Command {
  return c
    .requiredOption('--to <path>', 'gateway as <region>/<municipality>/<gateway>')
    .requiredOption('--key <file>', 'Ed25519 private key (PEM) from kedge-cmd keygen')
    .option('--key-id <id>', 'trusted key id on the gateway (default: the key fingerprint, as keygen prints)')
    .option('--url <url>', 'broker URL', process.env.KEDGE_BROKER_URL ?? 'mqtt://127.0.0.1:1883')
    .option('--username <name>', 'broker user')
    .option('--password <password>', 'broker password', process.env.KEDGE_BROKER_PASSWORD)
    .option('--prefix <prefix>', 'topic prefix (the gateway\'s uplink.topicPrefix); signed with --to', 'kedge/v1')
    .option('--timeout <ms>', 'how long to wait for the answer', int, 15_000)
    .option('--expires-in <ms>', 'the gateway must not act after this long', int)
    .option('--id <id>', 'command id (default a new UUID); resend with the same id to get the first answer again');
}

withSendOptions(program.command('write').description('write a value to a writable point'))
  .argument('<device>')
  .argument('<point>')
  .argument('<value>', 'number, true/false, or text')
  .action((device: string, point: string, value: string, o: SendOpts) => send('write', { device, point, value: parseValue(value) }, o));

withSendOptions(program.command('config').description('replace the gateway config file (validated and applied by the gateway)'))
  .argument('<file>', 'the new config YAML')
  .action((file: string, o: SendOpts) => send('config', { yaml: readFileSync(file, 'utf8') }, o));

withSendOptions(program.command('rebirth').description('ask the gateway to re-publish its birth message')).action((o: SendOpts) => send('rebirth', {}, o));

withSendOptions(program.command('loglevel').description('change the gateway log level'))
  .argument('<level>', 'fatal, error, warn, info, debug, trace or silent')
  .option('--duration <ms>', 'revert to the previous level after this long', int)
  .action((level: string, o: SendOpts & { duration?: number }) => send('loglevel', { level, ...(o.duration ? { durationMs: o.duration } : {}) }, o));

withSendOptions(program.command('resend').description("ask the gateway to send a range of its log again (the center's gap report lists what is missing)"))
  .argument('<first>', 'first sequence', int)
  .argument('<last>', 'last sequence', int)
  .option('--epoch <epoch>', "the gateway log's epoch the range belongs to (refused if the box has another)")
  .action((first: number, last: number, o: SendOpts & { epoch?: string }) => send('resend', { first, last, ...(o.epoch ? { epoch: o.epoch } : {}) }, o));

/** `--trusted id=publicKey`, repeatable. */
function trustedEntry(v: string, all: Array<{ id: string; publicKey: string }>): Array<{ id: string; publicKey: string }> {
  const at = v.indexOf('=');
  if (at <= 0 || at === v.length - 1) throw new InvalidArgumentError(`must be <id>=<public key> (base64 of 32 bytes, as keygen prints), got "${v}"`);
  return [...all, { id: v.slice(0, at), publicKey: v.slice(at + 1) }];
}

withSendOptions(
  program
    .command('trust')
    .description(
      'replace commands.trustedKeys or ota.trustedKeys of the gateway: signed with a MAINTAINER key (one of its ota.trustedKeys, e.g. the kedge-ota key), never with a center key',
    ),
)
  .argument('<section>', 'commands or ota')
  .requiredOption('--trusted <id=publicKey>', 'a key the section trusts afterwards (repeat; the whole list is replaced, so name the old key too while rotating)', trustedEntry, [])
  .action((section: string, o: SendOpts & { trusted: Array<{ id: string; publicKey: string }> }) => send('trust', { section, trustedKeys: o.trusted }, o));

await program.parseAsync().catch((err: Error) => {
  process.stderr.write(`kedge-cmd: ${err.message}\n`);
  process.exitCode = 2;
});
