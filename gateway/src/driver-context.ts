/**
 * The DriverContext the gateway hands every driver: its data folder, logger, and the one way
 * to read the secret and TLS files a device config names, with the same checks as the uplinks'
 * (secrets.ts): confined to `<dataDir>/secrets`, `<dataDir>/tls` or `secretsDir`, links resolved
 * like the kernel does, a warning when others can read a secret.
 */
import type { Logger } from 'pino';
import type { DriverContext, ReadSecret } from './drivers/definition.ts';
import { readSecretFile, secretFileProblem, secretRoots } from './secrets.ts';

/** Raised when a device's secret file cannot be read from where it may be; the message names the file. */
export class DeviceSecretError extends Error {
  override name = 'DeviceSecretError';
}

export function secretReader(config: { dataDir: string; secretsDir?: string | undefined }, logger?: Logger): ReadSecret {
  const roots = secretRoots(config);
  return (path, o = {}) => {
    try {
      const problem = o.secret ? secretFileProblem(path) : null;
      if (problem) logger?.warn({ file: path }, problem);
      return readSecretFile(path, roots);
    } catch (err) {
      throw new DeviceSecretError((err as Error).message);
    }
  };
}

export function driverContext(config: { dataDir: string; secretsDir?: string | undefined }, logger?: Logger): DriverContext {
  return { dataDir: config.dataDir, logger, readSecret: secretReader(config, logger) };
}
