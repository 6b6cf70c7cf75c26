/**
 * The TypeScript loader `npm test` runs the test files with (`node --import ts-loader.mjs`):
 * node's own module resolution plus esbuild's compile of `.ts` files (ts-hooks.mjs), instead of
 * tsx, whose hooks handle every module import of every file. Programs the tests start as
 * children, and everything outside the test run, still use tsx.
 */
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
// As tsx: a stack trace names the line of the .ts file, not of the compiled JavaScript.
process.setSourceMapsEnabled(true);
