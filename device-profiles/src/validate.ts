/**
 * Checks device profiles: `node --import tsx device-profiles/src/validate.ts [files...]`
 * (no arguments: every profile in device-profiles/profiles/). Exit code 1 on any problem.
 */
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listProfiles, loadProfileFile, PROFILES_DIR, ProfileError } from './load.ts';

export function validateFiles(files: string[]): { ok: string[]; errors: string[] } {
  const ok: string[] = [];
  const errors: string[] = [];
  for (const file of files) {
    try {
      const p = loadProfileFile(file);
      ok.push(`${file}: ${p.name} (${p.vendor} ${p.model}, ${p.points.length} points)`);
    } catch (err) {
      errors.push(err instanceof ProfileError ? err.message : `${file}: ${(err as Error).message}`);
    }
  }
  return { ok, errors };
}

const isMain = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const files = args.length > 0 ? args : listProfiles().map((n) => join(PROFILES_DIR, `${n}.yaml`));
  if (files.length === 0) {
    console.error(`no profiles found in ${PROFILES_DIR}`);
    process.exit(1);
  }
  const { ok, errors } = validateFiles(files);
  for (const line of ok) console.log(`ok  ${line}`);
  for (const e of errors) console.error(e);
  console.log(`${ok.length} valid, ${errors.length} invalid`);
  process.exit(errors.length === 0 ? 0 : 1);
}
