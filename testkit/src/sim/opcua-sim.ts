/**
 * A simulated OPC UA server (node-opcua's OPCUAServer) for tests, demos and the profile
 * simulator's `--opcua` mode. Stable API:
 *
 *   startOpcuaSim({
 *     port?,            // default: a free port on 127.0.0.1
 *     variables?,       // default: RIVER_STATION (level, water temperature, turbidity, pH,
 *                       //   conductivity, a writable pump bool, a UInt64 pulse counter)
 *     security?,        // 'any' (default): None, Sign and SignAndEncrypt with Basic256Sha256
 *                       //   and Aes128_Sha256_RsaOaep; 'none'; 'secure' (no None endpoint)
 *     users?,           // [{ username, password }]: accepted user tokens
 *     allowAnonymous?,  // default: true when no users are given
 *     tickMs?,          // how often the value functions are evaluated, default 100
 *     pkiDir?,          // default: a temp dir seeded from the shared PKI template, removed by stop()
 *   }): Promise<{ port, endpointUrl, certificateFile, nodeId(name), set(), resume(), stop(), restart() }>
 *
 * Every variable is `ns=1;s=<name>` inside the folder `ns=1;s=RiverStation` (or `folder`)
 * under Objects. Its value is `value(t)` with t = ms since start, refreshed every tick with a
 * source timestamp of that moment; `set()` pins a value (and optionally a status code and
 * source timestamp) until `resume()`. Writable variables keep what a client wrote.
 * `restart()` replaces the server by a new one on the same port and PKI: like a restarted
 * PLC it forgets every session and subscription.
 *
 * The server trusts every client certificate (test use only) and keeps its PKI out of
 * ~/.config. Without `pkiDir`, every sim gets a private copy of one PKI template (the server's
 * key and certificate, the user-token PKI) made once per machine user: RSA key and certificate
 * generation cost about as much CPU as the rest of a boot, and no test depends on a sim having
 * a key of its own (each still has its own folders, so what one sim accepts no other sees).
 * Run by hand: `node --import tsx scripts/src/sim/opcua-sim.ts --port 4840` (the CLI in scripts).
 */
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { StatusCode } from 'node-opcua-status-code';
import type { UAVariable } from 'node-opcua-address-space';
import { freePort } from '../ports.ts';
import { copyTemplateToTemp, templateDir, templateName } from '../template-dir.ts';

// node-opcua is CommonJS, so it is required rather than imported: an ESM import of it makes node
// scan every module its index files re-export for their export names (cjs-module-lexer), a few
// hundred ms of CPU in every test process that starts a sim.
const requireCjs = createRequire(import.meta.url);
const { OPCUAServer } = requireCjs('node-opcua-server') as typeof import('node-opcua-server');
type OPCUAServer = import('node-opcua-server').OPCUAServer;
const { OPCUACertificateManager } = requireCjs('node-opcua-certificate-manager') as typeof import('node-opcua-certificate-manager');
const { nodesets } = requireCjs('node-opcua-nodesets') as typeof import('node-opcua-nodesets');
const { makeEUInformation } = requireCjs('node-opcua-data-access') as typeof import('node-opcua-data-access');
const { DataType, Variant, VariantArrayType } = requireCjs('node-opcua-variant') as typeof import('node-opcua-variant');
type DataType = import('node-opcua-variant').DataType;
type Variant = import('node-opcua-variant').Variant;
const { StatusCodes } = requireCjs('node-opcua-status-code') as typeof import('node-opcua-status-code');
const { MessageSecurityMode, SecurityPolicy } = requireCjs('node-opcua-secure-channel') as typeof import('node-opcua-secure-channel');

export type OpcuaSimDataType =
  | 'Boolean'
  | 'Int16'
  | 'UInt16'
  | 'Int32'
  | 'UInt32'
  | 'Int64'
  | 'UInt64'
  | 'Float'
  | 'Double'
  | 'String';

export type OpcuaSimValue = number | bigint | boolean | string;

export interface OpcuaSimVariable {
  /** Browse name and string id: the node is `ns=1;s=<name>`. */
  name: string;
  dataType: OpcuaSimDataType;
  /** Value at t ms after start; for writable variables only the initial value. */
  value: (t: number) => OpcuaSimValue;
  /** Unit symbol shown as EngineeringUnits (UCUM-style, e.g. "cm", "Cel"). */
  unit?: string;
  /** Makes the variable an AnalogItem with EURange: needed for percent deadbands. */
  euRange?: { low: number; high: number };
  writable?: boolean;
}

export interface OpcuaSimUser {
  username: string;
  password: string;
}

export interface OpcuaSimOptions {
  port?: number;
  variables?: OpcuaSimVariable[];
  security?: 'any' | 'none' | 'secure';
  users?: OpcuaSimUser[];
  allowAnonymous?: boolean;
  tickMs?: number;
  pkiDir?: string;
  /** Browse name of the folder holding the variables; default "RiverStation". */
  folder?: string;
}

export interface OpcuaSimSetOptions {
  /** A StatusCodes name such as "BadSensorFailure" or "UncertainLastUsableValue"; default Good. */
  status?: string;
  sourceTimestamp?: Date;
}

export interface OpcuaSim {
  port: number;
  endpointUrl: string;
  /** The server's certificate (PEM): copy it into a client's trusted folder. */
  certificateFile: string;
  nodeId(name: string): string;
  /** Pins a variable's value (and status, source timestamp) until resume(). */
  set(name: string, value: OpcuaSimValue, opts?: OpcuaSimSetOptions): void;
  resume(name: string): void;
  stop(): Promise<void>;
  /** Shuts the server down and starts a fresh one on the same port. */
  restart(): Promise<void>;
}

const wave = (t: number, periodMs: number) => Math.sin((2 * Math.PI * t) / periodMs);
const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** A river monitoring station as field engineers find them on the Tom and Inya rivers. */
export const RIVER_STATION: readonly OpcuaSimVariable[] = [
  { name: 'Level', dataType: 'Double', unit: 'cm', euRange: { low: 0, high: 1000 }, value: (t) => round(312 + 40 * wave(t, 60_000) + 0.3 * wave(t, 700), 2) },
  { name: 'WaterTemperature', dataType: 'Double', unit: 'Cel', euRange: { low: -5, high: 40 }, value: (t) => round(4.2 + 0.5 * wave(t, 120_000) + 0.01 * wave(t, 900), 3) },
  { name: 'Turbidity', dataType: 'Double', unit: '[NTU]', euRange: { low: 0, high: 1000 }, value: (t) => round(18 + 3 * wave(t, 45_000) + 0.2 * wave(t, 500), 2) },
  { name: 'pH', dataType: 'Double', unit: '[pH]', euRange: { low: 0, high: 14 }, value: (t) => round(7.3 + 0.1 * wave(t, 90_000) + 0.005 * wave(t, 650), 3) },
  { name: 'Conductivity', dataType: 'Double', unit: 'uS/cm', euRange: { low: 0, high: 2000 }, value: (t) => round(412 + 15 * wave(t, 80_000) + 0.5 * wave(t, 550), 1) },
  { name: 'PumpRunning', dataType: 'Boolean', writable: true, value: () => false },
  // Beyond 2^53 on purpose: 64-bit counters must survive as exact integers.
  { name: 'PulseCount', dataType: 'UInt64', value: (t) => 9_007_199_254_740_993n + BigInt(Math.floor(t / 100)) },
];

const DATA_TYPES: Record<OpcuaSimDataType, DataType> = {
  Boolean: DataType.Boolean,
  Int16: DataType.Int16,
  UInt16: DataType.UInt16,
  Int32: DataType.Int32,
  UInt32: DataType.UInt32,
  Int64: DataType.Int64,
  UInt64: DataType.UInt64,
  Float: DataType.Float,
  Double: DataType.Double,
  String: DataType.String,
};

/** node-opcua carries 64-bit integers as [high, low] 32-bit words. */
function toVariant(type: OpcuaSimDataType, value: OpcuaSimValue): Variant {
  const dataType = DATA_TYPES[type];
  if (type === 'Int64' || type === 'UInt64') {
    const big = BigInt.asUintN(64, BigInt(value as number | bigint));
    return new Variant({ dataType, arrayType: VariantArrayType.Scalar, value: [Number(big >> 32n), Number(big & 0xffffffffn)] });
  }
  return new Variant({ dataType, value });
}

function statusOf(name: string | undefined): StatusCode {
  if (name === undefined) return StatusCodes.Good;
  const code = (StatusCodes as unknown as Record<string, StatusCode | undefined>)[name];
  if (!code) throw new Error(`opcua-sim: unknown status code name "${name}"`);
  return code;
}

interface Pinned {
  value: OpcuaSimValue;
  status: StatusCode;
  sourceTimestamp: Date;
}

const certificateManagers = (pkiDir: string) => {
  const at = (dir: string) => new OPCUACertificateManager({ rootFolder: join(pkiDir, dir), automaticallyAcceptUnknownCertificate: true });
  return { serverCertificateManager: at('server'), userCertificateManager: at('user') };
};

const SERVER_INFO = { applicationUri: 'urn:kedge:opcua-sim', productUri: 'urn:kedge:opcua-sim' };
const BUILD_INFO = { productName: 'kedge OPC UA simulator', manufacturerName: 'kedge' };
/** The files a usable template holds: the server's key and certificate, the user PKI's key. */
const TEMPLATE_FILES = ['server/own/private/private_key.pem', 'server/own/certs/certificate.pem', 'user/own/private/private_key.pem'];

/**
 * A fresh temp dir holding a copy of the PKI template, made by the server's own code path
 * (OPCUAServer.initializeCM: key, self-signed certificate for the sim's applicationUri and
 * this host, user PKI) the first time on this machine.
 */
async function seededPkiDir(): Promise<string> {
  const name = templateName('opcua-sim-pki', ['node-opcua-server', 'node-opcua-pki'], { SERVER_INFO, BUILD_INFO, TEMPLATE_FILES, hostname: '127.0.0.1' }, import.meta.url);
  const template = await templateDir(name, TEMPLATE_FILES, async (scratch) => {
    const managers = certificateManagers(scratch);
    try {
      const s = new OPCUAServer({ port: 0, host: '127.0.0.1', hostname: '127.0.0.1', ...managers, buildInfo: BUILD_INFO, serverInfo: SERVER_INFO });
      await s.initializeCM();
    } finally {
      await managers.serverCertificateManager.dispose();
      await managers.userCertificateManager.dispose();
    }
  }, { certificates: [{ cert: 'server/own/certs/certificate.pem', key: 'server/own/private/private_key.pem' }] });
  return copyTemplateToTemp(template, 'kedge-opcua-sim-');
}

export async function startOpcuaSim(opts: OpcuaSimOptions = {}): Promise<OpcuaSim> {
  const port = opts.port ?? (await freePort());
  const variables = opts.variables ?? RIVER_STATION;
  const tickMs = opts.tickMs ?? 100;
  const ownPki = opts.pkiDir === undefined;
  const pkiDir = opts.pkiDir ?? (await seededPkiDir());
  const folderName = opts.folder ?? 'RiverStation';
  const startedAt = Date.now();
  const pinned = new Map<string, Pinned>();
  const byName = new Map(variables.map((v) => [v.name, v]));
  if (byName.size !== variables.length) throw new Error('opcua-sim: variable names must be unique');

  const users = opts.users ?? [];
  const allowAnonymous = opts.allowAnonymous ?? users.length === 0;
  const security = opts.security ?? 'any';
  const securityModes =
    security === 'none'
      ? [MessageSecurityMode.None]
      : security === 'secure'
        ? [MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt]
        : [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt];
  const securityPolicies =
    security === 'none'
      ? [SecurityPolicy.None]
      : [
          ...(security === 'any' ? [SecurityPolicy.None] : []),
          SecurityPolicy.Basic256Sha256,
          SecurityPolicy.Aes128_Sha256_RsaOaep,
        ];

  let server: OPCUAServer | null = null;
  let nodes = new Map<string, UAVariable>();
  let timer: NodeJS.Timeout | null = null;

  function publish(name: string): void {
    const node = nodes.get(name);
    const v = byName.get(name);
    if (!node || !v) return;
    const pin = pinned.get(name);
    if (pin) {
      node.setValueFromSource(toVariant(v.dataType, pin.value), pin.status, pin.sourceTimestamp);
    } else if (!v.writable) {
      node.setValueFromSource(toVariant(v.dataType, v.value(Date.now() - startedAt)), StatusCodes.Good, new Date());
    }
  }

  async function boot(): Promise<void> {
    const s = new OPCUAServer({
      port,
      host: '127.0.0.1',
      hostname: '127.0.0.1',
      ...certificateManagers(pkiDir),
      nodeset_filename: [nodesets.standard],
      securityModes,
      securityPolicies,
      allowAnonymous,
      userManager: {
        isValidUser: (username: string, password: string) =>
          users.some((u) => u.username === username && u.password === password),
      },
      buildInfo: BUILD_INFO,
      serverInfo: SERVER_INFO,
    });
    await s.initialize();
    const addressSpace = s.engine.addressSpace!;
    const ns = addressSpace.getOwnNamespace();
    const folder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: folderName, nodeId: `s=${folderName}` });
    const fresh = new Map<string, UAVariable>();
    for (const v of variables) {
      const common = {
        componentOf: folder,
        browseName: v.name,
        nodeId: `s=${v.name}`,
        dataType: v.dataType,
        accessLevel: v.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
        userAccessLevel: v.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
        // Value changes are pushed with setValueFromSource: monitored items hear of them at once.
        minimumSamplingInterval: 0,
      };
      const node = v.euRange
        ? ns.addAnalogDataItem({
            ...common,
            engineeringUnitsRange: v.euRange,
            ...(v.unit ? { engineeringUnits: makeEUInformation(v.unit, v.unit, v.unit) } : {}),
          })
        : ns.addVariable(common);
      node.setValueFromSource(toVariant(v.dataType, v.value(0)), StatusCodes.Good, new Date());
      fresh.set(v.name, node as UAVariable);
    }
    nodes = fresh;
    for (const name of pinned.keys()) publish(name);
    await s.start();
    server = s;
    timer = setInterval(() => {
      for (const v of variables) publish(v.name);
    }, tickMs);
  }

  async function shutdown(): Promise<void> {
    if (timer) clearInterval(timer);
    timer = null;
    const s = server;
    server = null;
    nodes = new Map();
    // 0 ms: a restarted PLC does not announce its shutdown to the clients for seconds.
    if (s) await s.shutdown(0);
  }

  try {
    await boot();
  } catch (err) {
    await shutdown().catch(() => {});
    if (ownPki) rmSync(pkiDir, { recursive: true, force: true }); // nobody gets a stop() to call
    throw err;
  }
  const endpointUrl = `opc.tcp://127.0.0.1:${port}`;
  return {
    port,
    endpointUrl,
    certificateFile: join(pkiDir, 'server', 'own', 'certs', 'certificate.pem'),
    nodeId: (name) => `ns=1;s=${name}`,
    set(name, value, o = {}) {
      if (!byName.has(name)) throw new Error(`opcua-sim: no variable "${name}"`);
      pinned.set(name, { value, status: statusOf(o.status), sourceTimestamp: o.sourceTimestamp ?? new Date() });
      publish(name);
    },
    resume(name) {
      pinned.delete(name);
      publish(name);
    },
    async stop() {
      await shutdown();
      if (ownPki) rmSync(pkiDir, { recursive: true, force: true });
    },
    async restart() {
      await shutdown();
      await boot();
    },
  };
}
