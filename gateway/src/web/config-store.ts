import { accessSync, constants, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import { ConfigError, parseConfig } from '../config/load.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { writeFileAtomic } from '../write-file-atomic.ts';

/** Applying a valid config failed (e.g. a TLS file unreadable); the previous file was restored. */
export class ConfigApplyError extends Error {
  override name = 'ConfigApplyError';
}


/**
 * The config file as the UI changes it: every change is validated by the same loader as the
 * file (parseConfig), written atomically, then applied with Gateway.reload. A change that fails
 * validation leaves both the file and the running config untouched. Changes are serialised.
 */
export class ConfigStore {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly apply: (config: GatewayConfig) => Promise<void>,
  ) {}

  read(): string {
    return readFileSync(this.path, 'utf8');
  }

  /** The file as a YAML document (comments kept). */
  document(): Document {
    return parseDocument(this.read());
  }

  /** Validates `text` as a config file without touching anything. Throws ConfigError. */
  validate(text: string): GatewayConfig {
    return parseConfig(text, basename(this.path), dirname(this.path));
  }

  /** Edits the YAML document (comments and layout of the rest are kept) and applies the result. */
  edit(change: (doc: Document) => void): Promise<GatewayConfig> {
    return this.serial(() => {
      const before = this.read();
      const doc = parseDocument(before);
      if (doc.errors.length > 0) {
        throw new ConfigError(basename(this.path), [{ path: '', message: `the file on disk is not valid YAML: ${doc.errors[0]!.message}` }]);
      }
      change(doc);
      return this.commit(before, doc.toString());
    });
  }

  /** Replaces the whole file (the raw editor on the system page). */
  replace(text: string): Promise<GatewayConfig> {
    return this.serial(() => this.commit(this.read(), text));
  }

  private async commit(before: string, after: string): Promise<GatewayConfig> {
    const config = this.validate(after);
    checkFiles(config, basename(this.path));
    writeFileAtomic(this.path, after);
    try {
      await this.apply(config);
    } catch (err) {
      writeFileAtomic(this.path, before);
      await this.apply(this.validate(before)).catch(() => {});
      throw new ConfigApplyError(`the new config is valid but could not be applied (${(err as Error).message}); the previous file was restored`);
    }
    return config;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }
}

/** Files the config names must be readable now: the reload would fail halfway otherwise. */
function checkFiles(config: GatewayConfig, source: string): void {
  const files: Array<[string, string | undefined]> = [
    ['uplink.passwordFile', config.uplink.passwordFile],
    ['uplink.tls.ca', config.uplink.tls?.ca],
    ['uplink.tls.cert', config.uplink.tls?.cert],
    ['uplink.tls.key', config.uplink.tls?.key],
  ];
  const issues = files
    .filter(([, file]) => file !== undefined)
    .flatMap(([path, file]) => {
      try {
        accessSync(file!, constants.R_OK);
        return [];
      } catch {
        return [{ path, message: `file ${file} does not exist or is not readable` }];
      }
    });
  if (issues.length > 0) throw new ConfigError(source, issues);
}
