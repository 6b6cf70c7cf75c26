import type { IClientOptions } from 'mqtt';
import type { BrokerConnection, BrokerSinkBase } from '@kedge/cloud-sync/north/broker-link/link.ts';
import type { GatewayConfig } from './config/schema.ts';
import { readSecretFile, secretFileProblem, secretRoots } from './secrets.ts';

/**
 * How to reach the regional broker, as every MQTT client of the box needs it: the uplink, the
 * command downlink (`-cmd`), the OTA agent (`-ota`) and the UI's connection test (`-test-…`).
 * Built in one place so that secret files are read the same way for all of them: only from
 * the secrets folders with links resolved (secrets.ts), with a warning when others may read them.
 * The type is the north's (cloud-sync/src/north/broker-link/link.ts): the sinks connect with it.
 */
export type { BrokerConnection };

/** The settings a connection is built from: a broker-linked entry (the config's `uplink:`), or the UI's proposed one. */
export type BrokerSettings = Pick<BrokerSinkBase, 'url' | 'clientId' | 'username' | 'password' | 'passwordFile' | 'keepaliveSec'> & {
  protocolVersion?: 4 | 5 | undefined;
  tls?: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined; rejectUnauthorized?: boolean | undefined } | undefined;
};

export interface BrokerConnectionOptions {
  /** The gateway's id: the client id is `kedge-<id>` unless the settings name one. */
  gatewayId: string;
  /** Where secret files may be read from (secretRoots of the config). */
  roots: readonly string[];
  /** Appended to the client id: each client needs its own session at the broker. */
  clientSuffix?: string;
  /** A secret file others can read (mode): a warning, not a refusal (the box keeps syncing). */
  warn?: (file: string, problem: string) => void;
}

/** A secret or TLS file of the broker settings could not be read (outside the secrets folders, missing). */
export class BrokerSecretError extends Error {
  override name = 'BrokerSecretError';
  constructor(
    /** `passwordFile`, `tls.ca`, `tls.cert` or `tls.key`. */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Throws BrokerSecretError when a named secret file cannot be read from where it may be. */
export function brokerConnection(s: BrokerSettings, o: BrokerConnectionOptions): BrokerConnection {
  const read = (field: string, path: string | undefined, secret = false) => {
    if (!path) return undefined;
    try {
      const problem = secret ? secretFileProblem(path) : null;
      if (problem) o.warn?.(path, problem);
      return readSecretFile(path, o.roots);
    } catch (err) {
      throw new BrokerSecretError(field, (err as Error).message);
    }
  };
  const tls = s.tls
    ? { ca: read('tls.ca', s.tls.ca), cert: read('tls.cert', s.tls.cert), key: read('tls.key', s.tls.key, true), rejectUnauthorized: s.tls.rejectUnauthorized }
    : undefined;
  return {
    url: s.url,
    clientId: `${s.clientId ?? `kedge-${o.gatewayId}`}${o.clientSuffix ?? ''}`,
    username: s.username,
    password: s.password ?? read('passwordFile', s.passwordFile, true)?.toString('utf8').trim(),
    tls,
    keepaliveSec: s.keepaliveSec,
    protocolVersion: s.protocolVersion ?? 4,
  };
}

/** brokerConnection() for a client of this config's broker. */
export function configBrokerConnection(config: GatewayConfig, o: Omit<BrokerConnectionOptions, 'gatewayId' | 'roots'> = {}): BrokerConnection {
  return brokerConnection(config.uplink, { ...o, gatewayId: config.gateway.id, roots: secretRoots(config) });
}

/**
 * What decides where and as whom the clients connect: when it differs between two configs,
 * the clients are rebuilt on reload (a new broker URL, rotated credentials or certificates).
 */
export function brokerSettingsKey(config: GatewayConfig): string {
  const u = config.uplink;
  return JSON.stringify([config.gateway.id, u.url, u.clientId, u.username, u.password, u.passwordFile, u.tls, u.keepaliveSec, u.reconnectMinMs]);
}

/** mqtt.js options of a connection (url apart): for the clients that call mqtt.connect themselves. */
export function mqttClientOptions(c: BrokerConnection): IClientOptions {
  const tls = c.tls
    ? Object.fromEntries(Object.entries(c.tls).filter(([, v]) => v !== undefined))
    : {};
  return {
    clientId: c.clientId,
    keepalive: c.keepaliveSec,
    ...(c.username !== undefined ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
    ...tls,
  };
}
