/**
 * The Node-RED side of the side-by-side bench: Node-RED 4 with node-red-contrib-modbus (both
 * devDependencies of this workspace) running the flow of nodered/flow-template.json, repeated
 * once per device: a modbus-client on the device's port, a modbus-read of its holding registers
 * every interval, an mqtt out (QoS 1) to the bench's mosquitto. Its own user dir, its editor on
 * a free port of 127.0.0.1, no projects, no credentials.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@kedge/testkit/ports.ts';
import { startProcess, type ManagedProcess } from '@kedge/testkit/proc.ts';

const require = createRequire(import.meta.url);
const TEMPLATE = fileURLToPath(new URL('./nodered/flow-template.json', import.meta.url));

interface FlowNode {
  id: string;
  type: string;
  [k: string]: unknown;
}

/** Node-RED's start script and the contrib package's folder, or null when not installed (npm ci). */
export function nodeRedInstall(): { redJs: string; modbusDir: string; version: string } | null {
  try {
    const pkg = require.resolve('node-red/package.json');
    const modbusPkg = require.resolve('node-red-contrib-modbus/package.json');
    return { redJs: join(dirname(pkg), 'red.js'), modbusDir: dirname(modbusPkg), version: (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version };
  } catch {
    return null;
  }
}

/** The flow for `ports.length` devices: the template's triple per device, the broker at `brokerPort`. */
export function benchFlow(o: { ports: number[]; registers: number; intervalMs: number; brokerPort: number }): FlowNode[] {
  const template = JSON.parse(readFileSync(TEMPLATE, 'utf8')) as FlowNode[];
  const shared = template.filter((n) => !n.id.startsWith('dev-0-'));
  const device = template.filter((n) => n.id.startsWith('dev-0-'));
  const broker = shared.find((n) => n.type === 'mqtt-broker');
  if (!broker || device.length !== 3) throw new Error(`${TEMPLATE}: expected one mqtt-broker and the dev-0 client/read/out triple`);
  broker.port = String(o.brokerPort);
  const out: FlowNode[] = [...shared];
  o.ports.forEach((port, i) => {
    const rename = (s: string) => s.replace(/^dev-0-/, `dev-${i}-`);
    for (const n of device) {
      const c = JSON.parse(JSON.stringify(n)) as FlowNode;
      c.id = rename(c.id);
      if (c.type === 'modbus-client') Object.assign(c, { name: `dev-${i}`, tcpPort: String(port) });
      if (c.type === 'modbus-read') Object.assign(c, { name: `dev-${i} holding 0..${o.registers - 1}`, quantity: String(o.registers), rate: String(o.intervalMs), rateUnit: 'ms', server: rename(String(c.server)), y: 80 + 60 * i, wires: [[`dev-${i}-out`], []] });
      if (c.type === 'mqtt out') Object.assign(c, { topic: `bench/nodered/dev-${i}`, y: 80 + 60 * i });
      out.push(c);
    }
  });
  return out;
}

export interface NodeRed {
  proc: ManagedProcess;
  pid: number;
  editorUrl: string;
  version: string;
  stop(): Promise<void>;
}

/** Starts Node-RED on `flow` in a fresh user dir under `dir`; resolves once its flows started. */
export async function startNodeRed(dir: string, flow: FlowNode[], nodeFlags: string[] = []): Promise<NodeRed> {
  const install = nodeRedInstall();
  if (!install) throw new Error('node-red and node-red-contrib-modbus are not installed (devDependencies of @kedge/scripts: npm ci)');
  const userDir = join(dir, 'node-red');
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  // What `npm install node-red-contrib-modbus` in the user dir would do, without the network.
  symlinkSync(install.modbusDir, join(userDir, 'node_modules', 'node-red-contrib-modbus'));
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'kedge-bench-node-red', private: true, dependencies: { 'node-red-contrib-modbus': '*' } }));
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flow, null, 1));
  const port = await freePort();
  writeFileSync(
    join(userDir, 'settings.js'),
    `module.exports = ${JSON.stringify({
      uiHost: '127.0.0.1',
      uiPort: port,
      flowFile: 'flows.json',
      credentialSecret: false,
      editorTheme: { projects: { enabled: false }, tours: false },
      diagnostics: { enabled: false },
      telemetry: { enabled: false },
      logging: { console: { level: 'info', metrics: false, audit: false } },
    })};\n`,
  );
  const proc = await startProcess(process.execPath, [...nodeFlags, install.redJs, '--userDir', userDir, '--settings', join(userDir, 'settings.js')], {
    name: 'node-red',
    readyLine: /Started flows/,
    timeoutMs: 90_000,
    cwd: userDir,
  });
  if (/Missing node types|Waiting for missing types/.test(proc.output())) {
    await proc.stop();
    throw new Error(`node-red: the flow's node types did not load:\n${proc.output().slice(-2000)}`);
  }
  return { proc, pid: proc.pid, editorUrl: `http://127.0.0.1:${port}/`, version: install.version, stop: () => proc.stop() };
}
