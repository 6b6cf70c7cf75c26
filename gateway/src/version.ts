import { readFileSync } from 'node:fs';

/** The gateway package's version: its own module, so `--version` and `--check` need not load the daemon. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;
