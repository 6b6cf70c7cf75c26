import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeSecretFile } from '../secrets.ts';

/**
 * The web UI's HTTPS certificate: self-signed, generated once into <dataDir>/web/tls/ (key
 * mode 0600) and reused, so the browser's "accept this certificate" sticks across restarts.
 */
export async function ensureWebCertificate(webDir: string): Promise<{ key: string; cert: string; created: boolean; fingerprint256: string }> {
  const dir = join(webDir, 'tls');
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  try {
    const cert = readFileSync(certPath, 'utf8');
    return { key: readFileSync(keyPath, 'utf8'), cert, created: false, fingerprint256: new X509Certificate(cert).fingerprint256 };
  } catch {
    // Not there yet (first start with https: true).
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const notBefore = new Date();
  const notAfter = new Date(notBefore);
  notAfter.setFullYear(notAfter.getFullYear() + 10);
  // Loaded only here: selfsigned and its x509 stack cost ~8 MB of RSS that plain-HTTP boxes need not pay.
  // selfsigned is CommonJS: from source (tsx) its exports are named, but the bundle's chunk for a
  // dynamic import of CommonJS exports only `default` (build.test.ts serves HTTPS from dist/).
  const selfsigned = await import('selfsigned');
  const generate = selfsigned.generate ?? selfsigned.default.generate;
  const pems = await generate([{ name: 'commonName', value: hostname() }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname() }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  writeSecretFile(keyPath, pems.private);
  writeFileSync(certPath, pems.cert, { mode: 0o644 });
  return { key: pems.private, cert: pems.cert, created: true, fingerprint256: new X509Certificate(pems.cert).fingerprint256 };
}
