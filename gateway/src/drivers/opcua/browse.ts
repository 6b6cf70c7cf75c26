/**
 * Lists the children of an OPC UA node with their node class, data type and node id: how a
 * field engineer finds the `nodeId` values for the config.
 *
 *   node --import tsx gateway/src/drivers/opcua/browse.ts opc.tcp://10.0.0.5:4840 [nodeId]
 *     [--data-dir ./data] [--security-mode SignAndEncrypt] [--security-policy Basic256Sha256]
 *     [--user operator --password secret]
 */
import { fileURLToPath } from 'node:url';
import { AttributeIds, BrowseDirection, DataType, NodeClass, type ClientSession, type ReferenceDescription } from 'node-opcua-client';
import { resolveNodeId, type NodeId } from 'node-opcua-nodeid';
import { secretReader } from '../../driver-context.ts';
import { createClient, effectivePolicy, userIdentity, withTimeout, type AuthConfig, type SecurityModeName, type SecurityPolicyName } from './connect.ts';
import { leasePki } from './pki.ts';

export interface BrowseEntry {
  nodeId: string;
  browseName: string;
  displayName: string;
  nodeClass: string;
  /** Variables only: the data type's name (Double, UInt64, ...). */
  dataType?: string;
}

const HierarchicalReferences = 'i=33';

async function dataTypeName(session: ClientSession, id: NodeId, cache: Map<string, string>): Promise<string> {
  const key = id.toString();
  const known = cache.get(key);
  if (known) return known;
  let name: string;
  if (id.namespace === 0 && typeof id.value === 'number' && DataType[id.value] !== undefined) {
    name = DataType[id.value]!;
  } else {
    const dv = await session.read({ nodeId: id, attributeId: AttributeIds.BrowseName });
    name = (dv.value.value as { name?: string } | null)?.name ?? key;
  }
  cache.set(key, name);
  return name;
}

/** Children of `nodeId` (default: the Objects folder) along hierarchical references. */
export async function browse(session: ClientSession, nodeId = 'ObjectsFolder'): Promise<BrowseEntry[]> {
  const result = await session.browse({
    nodeId: resolveNodeId(nodeId),
    browseDirection: BrowseDirection.Forward,
    referenceTypeId: HierarchicalReferences,
    includeSubtypes: true,
    resultMask: 0x3f,
  });
  if (result.statusCode.isNotGood()) throw new Error(`browse of ${nodeId} failed: ${result.statusCode.name}`);
  const refs: ReferenceDescription[] = result.references ?? [];
  const variables = refs.filter((r) => r.nodeClass === NodeClass.Variable);
  const types = variables.length
    ? await session.read(variables.map((r) => ({ nodeId: r.nodeId, attributeId: AttributeIds.DataType })))
    : [];
  const cache = new Map<string, string>();
  const entries: BrowseEntry[] = [];
  for (const r of refs) {
    const entry: BrowseEntry = {
      nodeId: r.nodeId.toString(),
      browseName: r.browseName.toString(),
      displayName: r.displayName.text ?? '',
      nodeClass: NodeClass[r.nodeClass] ?? String(r.nodeClass),
    };
    const i = variables.indexOf(r);
    const dt = i >= 0 ? types[i] : undefined;
    if (dt && dt.statusCode.isGood()) entry.dataType = await dataTypeName(session, dt.value.value as NodeId, cache);
    entries.push(entry);
  }
  return entries;
}

export interface BrowseEndpointOptions {
  dataDir?: string;
  securityMode?: SecurityModeName;
  securityPolicy?: SecurityPolicyName;
  auth?: AuthConfig;
  timeoutMs?: number;
}

/** Connects, browses one node, disconnects. */
export async function browseEndpoint(endpointUrl: string, nodeId?: string, o: BrowseEndpointOptions = {}): Promise<BrowseEntry[]> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const pki = leasePki(o.dataDir ?? './data');
  try {
    await pki.ready;
    const securityMode = o.securityMode ?? 'None';
    const client = createClient({ securityMode, securityPolicy: effectivePolicy(securityMode, o.securityPolicy), timeoutMs, certificateManager: pki.manager });
    try {
      await withTimeout(client.connect(endpointUrl), timeoutMs, `connect to ${endpointUrl}`);
      const session = await client.createSession(userIdentity(o.auth ?? {}, secretReader({ dataDir: o.dataDir ?? './data' })));
      try {
        return await browse(session, nodeId);
      } finally {
        await session.close().catch(() => undefined);
      }
    } finally {
      await client.disconnect().catch(() => undefined);
    }
  } finally {
    await pki.release();
  }
}

export function formatEntries(entries: readonly BrowseEntry[]): string {
  const rows = entries.map((e) => [e.nodeClass, e.nodeId, e.browseName, e.dataType ?? '']);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length), 0));
  return rows.map((r) => r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]!) : cell)).join('  ').trimEnd()).join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { Command } = await import('commander');
  const program = new Command('opcua-browse')
    .description('list the children of an OPC UA node (default: Objects) with node class, node id, browse name and data type')
    .argument('<endpoint>', 'opc.tcp://host:port')
    .argument('[nodeId]', 'node to browse, e.g. ns=2;s=Line1', 'ObjectsFolder')
    .option('--data-dir <dir>', "the gateway's data folder (its PKI is <dir>/pki/opcua)", './data')
    .option('--security-mode <mode>', 'None, Sign or SignAndEncrypt', 'None')
    .option('--security-policy <policy>', 'None, Basic256Sha256 or Aes128_Sha256_RsaOaep')
    .option('--user <name>', 'user name')
    .option('--password <password>', 'password for --user')
    .parse();
  const [endpoint, nodeId] = program.processedArgs as [string, string];
  const o = program.opts<{ dataDir: string; securityMode: SecurityModeName; securityPolicy?: SecurityPolicyName; user?: string; password?: string }>();
  try {
    const entries = await browseEndpoint(endpoint, nodeId, {
      dataDir: o.dataDir,
      securityMode: o.securityMode,
      ...(o.securityPolicy ? { securityPolicy: o.securityPolicy } : {}),
      auth: o.user ? { username: o.user, password: o.password ?? '' } : {},
    });
    process.stdout.write(`${formatEntries(entries)}\n`);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`browse failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
