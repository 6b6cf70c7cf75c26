import type { FastifyInstance } from 'fastify';
import { listProfiles, loadProfile, ProfileError } from '@kedge/device-profiles/load.ts';
import { POLL_CLASS_MS, PROFILE_NAME_PATTERN, type Profile } from '@kedge/device-profiles/schema.ts';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import { looseObject } from './json.ts';

/**
 * A device config (as the file would hold it) with every point of the profile spelled out.
 * The gateway config has no `profile:` reference yet; when it gets one, this can return
 * `{ profile: name }` instead and the form stays the same.
 */
export function deviceFromProfile(profile: Profile, lang: 'ru' | 'en', driver?: 'modbus-tcp' | 'modbus-rtu'): Record<string, unknown> {
  const proto = profile.protocol;
  // An RS-485 device is a serial device with its line settings, unless the engineer says it
  // sits behind a TCP gateway (driver=modbus-tcp).
  const rtu = (driver ?? (proto.transports[0] === 'rtu' ? 'modbus-rtu' : 'modbus-tcp')) === 'modbus-rtu';
  const link = rtu
    ? {
        driver: 'modbus-rtu',
        port: '/dev/ttyUSB0',
        baudRate: proto.baudRate ?? 9600,
        parity: proto.parity ?? 'none',
        dataBits: proto.dataBits ?? 8,
        stopBits: proto.stopBits ?? 1,
      }
    : { driver: 'modbus-tcp', host: '', port: 502 };
  return {
    id: profile.name,
    // What the device is, in the UI's language ("Электромагнитный расходомер воды"), not the
    // vendor's English model text; the engineer names it for the site.
    name: shortDescription(profile.description[lang]) || profile.model,
    ...link,
    unitId: proto.unitId ?? 1,
    addressBase: proto.addressBase,
    ...(proto.maxRegisters !== undefined ? { maxRegisters: proto.maxRegisters } : {}),
    ...(proto.maxGap !== undefined ? { maxGap: proto.maxGap } : {}),
    points: profile.points.map((p) => ({
      id: p.id,
      name: p.name[lang],
      table: p.table,
      address: p.address,
      type: p.type,
      ...(p.type !== 'bool' && p.type !== 'bit' ? { order: p.order ?? proto.order } : {}),
      ...(p.bit !== undefined ? { bit: p.bit } : {}),
      ...(p.length !== undefined ? { length: p.length } : {}),
      ...(p.scale !== undefined ? { scale: p.scale } : {}),
      ...(p.offset !== undefined ? { offset: p.offset } : {}),
      ...(p.unit !== undefined ? { unit: p.unit } : {}),
      ...(p.pollClass !== 'fast' ? { intervalMs: POLL_CLASS_MS[p.pollClass] } : {}),
      ...(p.writable ? { writable: true } : {}),
    })),
  };
}

/** "Трёхфазный счётчик электроэнергии с RS-485 Modbus RTU (вводы …)" -> "Трёхфазный счётчик электроэнергии". */
export function shortDescription(text: string): string {
  return text.replace(/\s*[(,].*$/, '').replace(/\s+(с|со|with)\s.*$/, '').trim();
}

export async function profileRoutes(app: FastifyInstance, _ctx: WebContext): Promise<void> {
  app.get(
    '/api/profiles',
    {
      config: { auth: { token: 'read' } },
      schema: {
        tags: ['devices'],
        summary: 'Device profiles (register maps of real devices) a new device can start from',
        response: { 200: { type: 'array', items: looseObject('name, vendor, model, description {ru, en}, points (count), error when the profile file is broken') } },
      },
    },
    async () =>
      listProfiles().map((name) => {
        try {
          const p = loadProfile(name);
          return { name, vendor: p.vendor, model: p.model, description: p.description, points: p.points.length };
        } catch (err) {
          return { name, error: (err as Error).message };
        }
      }),
  );

  app.get(
    '/api/profiles/:name/device',
    {
      config: { auth: { token: 'read' } },
      schema: {
        tags: ['devices'],
        summary: 'A new device config filled in from a profile (all points), for the add-device form; nothing is saved',
        params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: PROFILE_NAME_PATTERN.source } } },
        querystring: {
          type: 'object',
          properties: {
            lang: { type: 'string', enum: ['ru', 'en'], default: 'ru' },
            driver: { type: 'string', enum: ['modbus-tcp', 'modbus-rtu'], description: "default: the profile's first transport (RS-485 devices: modbus-rtu)" },
          },
        },
        response: { 200: looseObject('a device as in the config file'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const { lang, driver } = request.query as { lang: 'ru' | 'en'; driver?: 'modbus-tcp' | 'modbus-rtu' };
      try {
        return deviceFromProfile(loadProfile(name), lang, driver);
      } catch (err) {
        if (err instanceof ProfileError) return sendError(reply, 404, 'not_found', err.message);
        throw err;
      }
    },
  );
}
