/**
 * `npm run fuzz [-- <scale>]`: the property tests of the decoders, codecs and config parser
 * (the same ones `npm test` runs briefly) with their run counts multiplied, 50x by default.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const scale = process.argv[2] ?? '50';
const FILES = [
  'gateway/src/drivers/modbus/decode.fuzz.test.ts',
  'gateway/src/config/load.fuzz.test.ts',
  'gateway/src/drivers/modbus-tcp/misbehaving-device.test.ts',
  'cloud-sync/src/codec/json.test.ts',
  'cloud-sync/src/codec/roundtrip.test.ts',
  'cloud-sync/src/codec/compact.test.ts',
];
process.stdout.write(`fuzz: KEDGE_FUZZ_SCALE=${scale}\n`);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-timeout=3600000', ...FILES], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, KEDGE_FUZZ_SCALE: scale },
});
process.exit(r.status ?? 1);
