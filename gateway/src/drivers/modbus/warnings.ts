/**
 * Modbus devices that are valid but probably wrong (config/warnings.ts gathers every driver's):
 * the daemon runs them (a warning never refuses a file), and `--check`, the start-up log and the
 * web UI say what looks off and why, so the engineer fixes the map before a wrong register is
 * logged for months.
 *
 * - Two register points whose registers overlap (a float32 at 101 and another at 102):
 *   one address is almost always a typo. Bit points share their register by design.
 * - An address that looks like Modicon notation (40001 = holding register 1, 30001 = input
 *   register 1, 10001 = discrete input 1): kedge takes addresses as numbers inside their table
 *   and does not strip the prefix, so 40001 reads register 40001 (protocol 40000 with
 *   addressBase 1). The warning says what to write instead.
 * - A point of a profile device outside the registers its profile documents: the profile's
 *   register map ends there, the device most likely has nothing at that address.
 */
import { loadProfile } from '@kedge/device-profiles/load.ts';
import type { DeviceWarning, ProfileUse } from '../definition.ts';
import { registerCount } from './decode.ts';
import type { ModbusDeviceConfig } from './schema.ts';
import type { ModbusTable } from './types.ts';

/** Modicon's 5-digit prefixes: the table each notation names. */
const MODICON: Array<{ table: ModbusTable; prefix: number; name: string }> = [
  { table: 'discrete', prefix: 1, name: '1xxxx (discrete inputs)' },
  { table: 'input', prefix: 3, name: '3xxxx (input registers)' },
  { table: 'holding', prefix: 4, name: '4xxxx (holding registers)' },
];

const isBitTable = (t: ModbusTable) => t === 'coil' || t === 'discrete';

interface Span {
  index: number;
  id: string;
  table: ModbusTable;
  type: string;
  start: number;
  end: number;
}

const span = (s: Pick<Span, 'table' | 'start' | 'end'>) => (s.end > s.start ? `${s.table} ${s.start}..${s.end}` : `${s.table} ${s.start}`);

/** Per table, a profile's first to last register, in a device's numbering; undefined when it cannot be loaded. */
function documentedRanges(name: string, addressBase: number): Map<ModbusTable, { start: number; end: number }> | undefined {
  let profile;
  try {
    profile = loadProfile(name);
  } catch {
    return undefined;
  }
  const out = new Map<ModbusTable, { start: number; end: number }>();
  for (const p of profile.points) {
    let count: number;
    try {
      count = registerCount(p);
    } catch {
      continue;
    }
    const start = p.address - profile.protocol.addressBase + addressBase;
    const end = start + count - 1;
    const r = out.get(p.table);
    out.set(p.table, r ? { start: Math.min(r.start, start), end: Math.max(r.end, end) } : { start, end });
  }
  return out;
}

/** What looks wrong in one Modbus device; paths relative to the device (`points[2].address`). */
export function modbusWarnings(d: ModbusDeviceConfig, origin: ProfileUse | undefined): DeviceWarning[] {
  const out: DeviceWarning[] = [];
  {
    const at = (pi: number, field: string) => ['points', pi, field];
    const spans: Span[] = [];
    d.points.forEach((p, pi) => {
      let count: number;
      try {
        count = registerCount(p);
      } catch {
        return;
      }
      spans.push({ index: pi, id: p.id, table: p.table, type: p.type, start: p.address, end: p.address + count - 1 });

      const modicon = MODICON.find((m) => p.address > m.prefix * 10_000 && p.address < (m.prefix + 1) * 10_000);
      if (modicon) {
        const n = p.address - modicon.prefix * 10_000;
        const sameTable = modicon.table === p.table;
        out.push({
          segments: at(pi, 'address'),
          code: 'modicon_address',
          params: { address: p.address, notation: `${modicon.prefix}xxxx`, table: p.table, manualTable: modicon.table, register: n, protocolAddress: n - 1 },
          message:
            `address ${p.address} looks like Modicon notation ${modicon.name}${sameTable ? '' : ` but the point is in the ${p.table} table`}: ` +
            `kedge does not strip the prefix and reads ${p.table} register ${p.address}. For ${modicon.table} register ${n} of the manual write ` +
            `table: ${modicon.table}, address: ${n} with addressBase: 1 (or address: ${n - 1} with addressBase: 0)`,
        });
      }
    });

    // Overlaps: sort per table, compare each point with those still open.
    const byTable = new Map<ModbusTable, Span[]>();
    for (const s of spans) if (!(s.type === 'bit') && !isBitTable(s.table)) byTable.set(s.table, [...(byTable.get(s.table) ?? []), s]);
    for (const list of byTable.values()) {
      list.sort((a, b) => a.start - b.start || a.index - b.index);
      for (let i = 0; i < list.length; i++) {
        for (let j = i + 1; j < list.length && list[j]!.start <= list[i]!.end; j++) {
          const [a, b] = [list[i]!, list[j]!];
          const shared = { table: a.table, start: b.start, end: Math.min(a.end, b.end) };
          const later = a.index > b.index ? a : b;
          const other = later === a ? b : a;
          out.push({
            segments: at(later.index, 'address'),
            code: 'points_overlap',
            params: { point: later.id, pointSpan: `${later.type}, ${span(later)}`, other: other.id, otherSpan: `${other.type}, ${span(other)}`, shared: span(shared) },
            message:
              `point "${later.id}" (${later.type}, ${span(later)}) overlaps point "${other.id}" (${other.type}, ${span(other)}) in ${span(shared)}: ` +
              'two values cannot live in the same registers, one of the addresses (or types) is probably wrong',
          });
        }
      }
    }

    const documented = origin ? documentedRanges(origin.profile, d.addressBase) : undefined;
    if (origin && documented && documented.size > 0) {
      for (const s of spans) {
        // Only what the config file itself sets: the profile's own points are its map.
        if (s.index >= origin.configPoints) continue;
        const r = documented.get(s.table);
        if (r && s.start >= r.start && s.end <= r.end) continue;
        const where = r ? `the ${s.table} registers it documents are ${span({ table: s.table, ...r })}` : `it documents no ${s.table} registers`;
        out.push({
          segments: at(s.index, 'address'),
          ...(r
            ? { code: 'beyond_profile' as const, params: { point: s.id, span: span(s), profile: origin.profile, documented: span({ table: s.table, ...r }) } }
            : { code: 'beyond_profile_table' as const, params: { point: s.id, span: span(s), profile: origin.profile, table: s.table } }),
          message: `point "${s.id}" (${span(s)}) is beyond the register map of profile "${origin.profile}": ${where} (addresses in this device's numbering)`,
        });
      }
    }
  }
  return out;
}
