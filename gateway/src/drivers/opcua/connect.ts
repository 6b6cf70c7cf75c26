/**
 * Building an OPC UA client and session from a device's config, and turning node-opcua's
 * connection errors into messages a field engineer can act on.
 */
import { createPrivateKey } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
  type OPCUAClientOptions,
  type UserIdentityInfo,
} from 'node-opcua-client';
import { convertPEMtoDER, keyOperationsFromPrivateKey } from 'node-opcua-crypto';
import type { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import type { Quality } from '@kedge/cloud-sync/model.ts';
import type { ReadSecret } from '../definition.ts';
import type { OpcuaDeviceConfig } from './schema.ts';

export const APPLICATION_NAME = 'kedge-gateway';

export type SecurityModeName = OpcuaDeviceConfig['securityMode'];
export type SecurityPolicyName = NonNullable<OpcuaDeviceConfig['securityPolicy']>;
export type AuthConfig = OpcuaDeviceConfig['auth'];

export function effectivePolicy(mode: SecurityModeName, policy: SecurityPolicyName | undefined): SecurityPolicyName {
  return policy ?? (mode === 'None' ? 'None' : 'Basic256Sha256');
}

export interface ClientSettings {
  securityMode: SecurityModeName;
  securityPolicy?: SecurityPolicyName | undefined;
  timeoutMs: number;
  certificateManager: OPCUACertificateManager;
}

export function createClient(s: ClientSettings): OPCUAClient {
  const options: OPCUAClientOptions = {
    applicationName: APPLICATION_NAME,
    applicationUri: `urn:${hostname()}:${APPLICATION_NAME}`,
    clientCertificateManager: s.certificateManager,
    securityMode: MessageSecurityMode[s.securityMode],
    securityPolicy: SecurityPolicy[effectivePolicy(s.securityMode, s.securityPolicy)],
    endpointMustExist: false,
    // The driver reconnects itself and re-creates every subscription: node-opcua's own repair
    // cannot bring back subscriptions a restarted server has forgotten.
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 1000 },
    defaultTransactionTimeout: s.timeoutMs,
    keepSessionAlive: true,
    keepAliveInterval: Math.max(2000, s.timeoutMs),
    requestedSessionTimeout: 60_000,
  };
  return OPCUAClient.create(options);
}

/** Raised when a file `auth` names cannot be read or used; a configuration problem, named by field and file. */
export class AuthFileError extends Error {
  override name = 'AuthFileError';
}

/**
 * The session's user identity. Every file `auth` names is read through `readSecret` (the
 * gateway's confined reader, driver-context.ts), never straight from disk: a link planted in
 * the secrets folder must not hand /etc/shadow to a server of someone's choosing.
 */
export function userIdentity(auth: AuthConfig, readSecret: ReadSecret): UserIdentityInfo {
  const read = (field: string, path: string, secret: boolean): Buffer => {
    try {
      return readSecret(path, { secret });
    } catch (err) {
      throw new AuthFileError(`auth.${field}: ${(err as Error).message}`);
    }
  };
  if (auth.username !== undefined) {
    const password = auth.password ?? read('passwordFile', auth.passwordFile!, true).toString('utf8').trim();
    return { type: UserTokenType.UserName, userName: auth.username, password };
  }
  if (auth.certificateFile !== undefined && auth.privateKeyFile !== undefined) {
    const cert = read('certificateFile', auth.certificateFile, false);
    const key = read('privateKeyFile', auth.privateKeyFile, true);
    try {
      return {
        type: UserTokenType.Certificate,
        // PEM or DER, as node-opcua's own readCertificate/readPrivateKey accept.
        certificateData: cert.includes('-----BEGIN') ? convertPEMtoDER(cert.toString('utf8')) : cert,
        keyOperations: keyOperationsFromPrivateKey({ hidden: createPrivateKey(key.includes('-----BEGIN') ? key.toString('utf8') : { key, format: 'der', type: 'pkcs8' }) }),
      };
    } catch (err) {
      throw new AuthFileError(`auth.certificateFile/privateKeyFile (${auth.certificateFile}, ${auth.privateKeyFile}): not a usable certificate and private key: ${(err as Error).message}`);
    }
  }
  return { type: UserTokenType.Anonymous };
}

export interface Explained {
  message: string;
  quality: Quality;
}

/** Connection and session errors -> what happened, what to check, and the point quality. */
export function explainError(err: unknown, ctx: { endpointUrl: string; auth: AuthConfig; pkiFolder: string }): Explained {
  const raw = err instanceof Error ? err.message : String(err);
  const text = raw.split('\n')[0]!.trim();
  const has = (...needles: string[]) => needles.some((n) => raw.includes(n));
  if (err instanceof AuthFileError) return { quality: 'bad_config', message: `${ctx.endpointUrl}: ${text}` };
  if (has('BadUserAccessDenied', 'BadIdentityTokenRejected', 'BadIdentityTokenInvalid')) {
    const who = ctx.auth.username !== undefined ? `user "${ctx.auth.username}"` : ctx.auth.certificateFile ? 'the user certificate' : 'anonymous access';
    return { quality: 'bad_config', message: `${ctx.endpointUrl} rejected ${who}: check auth in the device config (${text})` };
  }
  if (has('BadCertificateUntrusted', 'certificate is not trusted', 'BadSecurityChecksFailed', 'BadCertificateInvalid')) {
    return {
      quality: 'bad_config',
      message:
        `certificate check failed with ${ctx.endpointUrl} (${text}): if the server's certificate is in ` +
        `${join(ctx.pkiFolder, 'rejected')}, move it to ${join(ctx.pkiFolder, 'trusted', 'certs')}; ` +
        `the server must also trust this gateway's ${join(ctx.pkiFolder, 'own', 'certs', 'client_certificate.pem')}`,
    };
  }
  if (has('cannot find endpoint', 'BadSecurityPolicyRejected', 'BadSecurityModeRejected', 'endpoint does not exist')) {
    return { quality: 'bad_config', message: `${ctx.endpointUrl} offers no endpoint with the configured securityMode/securityPolicy (${text})` };
  }
  if (has('timed out', 'Timeout', 'ETIMEDOUT', 'BadTimeout')) {
    return { quality: 'bad_no_response', message: `no answer from ${ctx.endpointUrl} (${text})` };
  }
  return { quality: 'bad_comm', message: `${ctx.endpointUrl}: ${text}` };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
