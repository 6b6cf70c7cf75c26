import type { FastifyInstance } from 'fastify';
import { listProfiles, loadProfile, ProfileError } from '@kedge/device-profiles/load.ts';
import { PROFILE_NAME_PATTERN, type Profile } from '@kedge/device-profiles/schema.ts';
import { DRIVERS, type DriverDefinition } from '../../drivers/registry.ts';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import { looseObject } from './json.ts';

/** The drivers that build a device from a profile (drivers/registry.ts). */
const PROFILE_DRIVERS = (DRIVERS as readonly DriverDefinition[]).filter((d) => d.deviceFromProfile !== undefined);

/**
 * A device config (as the file would hold it) with every point of the profile spelled out, by
 * the driver that speaks the profile's link (DriverDefinition.deviceFromProfile). The config's
 * `profile:` reference (config/profiles.ts) is the other way to use a profile.
 */
export function deviceFromProfile(profile: Profile, lang: 'ru' | 'en', driver?: string): Record<string, unknown> {
  // An RS-485 device is a serial device with its line settings, unless the engineer says it
  // sits behind a TCP gateway (driver=modbus-tcp): otherwise the profile's first transport picks.
  const def = driver !== undefined ? PROFILE_DRIVERS.find((d) => d.kind === driver) : PROFILE_DRIVERS.find((d) => d.profileTransport === profile.protocol.transports[0]);
  if (!def?.deviceFromProfile) throw new Error(`no driver builds a device from profile "${profile.name}" (${driver ?? `transport ${profile.protocol.transports[0]}`})`);
  return {
    id: profile.name,
    // What the device is, in the UI's language ("Электромагнитный расходомер воды"), not the
    // vendor's English model text; the engineer names it for the site.
    name: shortDescription(profile.description[lang]) || profile.model,
    ...def.deviceFromProfile(profile, lang),
  };
}

/** "Трёхфазный счётчик электроэнергии с RS-485 Modbus RTU (вводы …)" -> "Трёхфазный счётчик электроэнергии". */
export function shortDescription(text: string): string {
  // "с"/"со" escaped: one non-Latin-1 character in a bundled chunk makes V8 keep that chunk's
  // whole source text as two-byte, doubling it in the heap (scripts/src/build/one-byte-source.ts).
  return text.replace(/\s*[(,].*$/, '').replace(/\s+(\u0441|\u0441\u043e|with)\s.*$/, '').trim();
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
            driver: { type: 'string', enum: PROFILE_DRIVERS.map((d) => d.kind), description: "default: the driver of the profile's first transport (RS-485 devices: the serial one)" },
          },
        },
        response: { 200: looseObject('a device as in the config file'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const { lang, driver } = request.query as { lang: 'ru' | 'en'; driver?: string };
      try {
        return deviceFromProfile(loadProfile(name), lang, driver);
      } catch (err) {
        if (err instanceof ProfileError) return sendError(reply, 404, 'not_found', err.message);
        throw err;
      }
    },
  );
}
