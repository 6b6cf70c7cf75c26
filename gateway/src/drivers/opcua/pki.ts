/**
 * The gateway's OPC UA PKI lives in `<dataDir>/pki/opcua` (own/, trusted/, rejected/, issuers/):
 * backed up and wiped with the rest of the gateway's state, and never in ~/.config, where
 * node-opcua puts it by default.
 */
import { join, resolve } from 'node:path';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';

export function pkiFolder(dataDir: string): string {
  return join(resolve(dataDir), 'pki', 'opcua');
}

/** The client certificate node-opcua creates (self-signed, offline) on first connect. */
export function ownCertificateFile(dataDir: string): string {
  return join(pkiFolder(dataDir), 'own', 'certs', 'client_certificate.pem');
}

interface Shared {
  manager: OPCUACertificateManager;
  ready: Promise<void>;
  users: number;
}

// Devices of one gateway share a folder; one manager per folder avoids racing file watchers.
const managers = new Map<string, Shared>();

export interface PkiLease {
  manager: OPCUACertificateManager;
  ready: Promise<void>;
  release(): Promise<void>;
}

/**
 * `acceptUnknownServerCertificates` exists for tests only; in the field a server's certificate
 * is trusted by moving it from `rejected/` to `trusted/certs/`.
 */
export function leasePki(dataDir: string, acceptUnknownServerCertificates = false): PkiLease {
  const folder = pkiFolder(dataDir);
  const key = `${folder}|${acceptUnknownServerCertificates}`;
  let shared = managers.get(key);
  if (!shared) {
    const manager = new OPCUACertificateManager({
      rootFolder: folder,
      automaticallyAcceptUnknownCertificate: acceptUnknownServerCertificates,
    });
    shared = { manager, ready: manager.initialize(), users: 0 };
    managers.set(key, shared);
  }
  shared.users++;
  const s = shared;
  let released = false;
  return {
    manager: s.manager,
    ready: s.ready,
    async release() {
      if (released) return;
      released = true;
      if (--s.users > 0) return;
      managers.delete(key);
      await s.ready.catch(() => undefined);
      // Clients hold references while connected; at zero the file watchers are closed.
      s.manager.referenceCounter = 0;
      await s.manager.dispose();
    },
  };
}
