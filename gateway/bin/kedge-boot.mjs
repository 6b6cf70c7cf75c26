#!/usr/bin/env node
// kedge-boot: the production bundle (dist/kedge-boot.mjs, from `npm run build`) when it was built,
// otherwise the TypeScript sources through tsx (a devDependency; development checkouts).
import { existsSync } from 'node:fs';

const dist = new URL('../../dist/kedge-boot.mjs', import.meta.url);
if (existsSync(dist)) {
  await import(dist.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/ota/boot.ts');
}
