/** Helpers for the OPC UA driver's tests: configs through the real schema, sample collection, data folders. */
import { join, relative } from 'node:path';
import { copyTemplateToTemp, templateDir, templateName } from '@kedge/testkit/template-dir.ts';
import type { Sample } from '../driver.ts';
import { createClient } from './connect.ts';
import { leasePki, ownCertificateFile, pkiFolder } from './pki.ts';
import { opcuaDeviceSchema, type OpcuaDeviceConfig } from './schema.ts';

export { CountingProbe, ManualTimers } from './virtual-timers.ts';

/**
 * A fresh data folder (mkdtemp under `prefix`) whose OPC UA PKI already holds the client key and
 * certificate the driver makes on its first connect: a copy of a template made once per machine
 * user by that same code (leasePki + the client's createDefaultCertificate), since a 2048-bit key
 * costs a test more CPU than most of what it checks. A test of the PKI itself
 * (security.test.ts: the certificate is created in the data folder) starts from an empty folder.
 */
export async function opcuaDataDir(prefix: string): Promise<string> {
  const probe = '/kedge-opcua-client';
  const [cert, key] = [relative(probe, ownCertificateFile(probe)), relative(probe, join(pkiFolder(probe), 'own', 'private', 'private_key.pem'))] as const;
  const clientOptions = { securityMode: 'None', timeoutMs: 5000 } as const;
  // The name changes with the libraries that make the certificate and with what the fill asks of them.
  const name = templateName('opcua-client-pki', ['node-opcua-client', 'node-opcua-pki'], { clientOptions, cert, key }, import.meta.url);
  const template = await templateDir(name, [cert, key], async (scratch) => {
    const pki = leasePki(scratch);
    try {
      await pki.ready;
      await createClient({ ...clientOptions, certificateManager: pki.manager }).createDefaultCertificate();
    } finally {
      await pki.release();
    }
  }, { certificates: [{ cert, key }] });
  return copyTemplateToTemp(template, prefix);
}

/** An opcua device config with the schema's defaults applied, as the gateway would get it. */
export function opcuaDevice(device: Record<string, unknown>): OpcuaDeviceConfig {
  return opcuaDeviceSchema.parse({ id: 'station', driver: 'opcua', backoff: { minMs: 200, maxMs: 1000 }, ...device });
}

export class SampleLog {
  readonly all: Sample[] = [];
  readonly sink = (samples: Sample[]): void => {
    this.all.push(...samples);
  };
  of(point: string): Sample[] {
    return this.all.filter((s) => s.point === point);
  }
  last(point: string): Sample | undefined {
    return this.of(point).at(-1);
  }
  values(point: string): unknown[] {
    return this.of(point).map((s) => s.value);
  }
}

