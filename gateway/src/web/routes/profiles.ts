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
export function deviceFromProfile(profile: Profile, lang: 'ru' | 'en'): Record<string, unknown> {
  const proto = profile.protocol;
  return {
    id: profile.name,
    name: `${profile.vendor} ${profile.model}`,
    driver: 'modbus-tcp',
    host: '127.0.0.1',
    port: 502,
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

export async function profileRoutes(app: FastifyInstance, _ctx: WebContext): Promise<void> {
  app.get(
    '/api/profiles',
    {
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
      schema: {
        tags: ['devices'],
        summary: 'A new device config filled in from a profile (all points), for the add-device form; nothing is saved',
        params: { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: PROFILE_NAME_PATTERN.source } } },
        querystring: { type: 'object', properties: { lang: { type: 'string', enum: ['ru', 'en'], default: 'ru' } } },
        response: { 200: looseObject('a device as in the config file'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const { lang } = request.query as { lang: 'ru' | 'en' };
      try {
        return deviceFromProfile(loadProfile(name), lang);
      } catch (err) {
        if (err instanceof ProfileError) return sendError(reply, 404, 'not_found', err.message);
        throw err;
      }
    },
  );
}
