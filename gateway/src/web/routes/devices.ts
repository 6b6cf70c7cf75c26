import type { FastifyInstance, FastifyReply } from 'fastify';
import { isSeq, type Document } from 'yaml';
import { parseConfigWithWarnings } from '../../config/load.ts';
import { ID_PATTERN, type DeviceConfig } from '../../config/schema.ts';
import { driverDefinition } from '../../drivers/registry.ts';
import type { WebContext } from '../context.ts';
import { webChange } from '../web-change.ts';
import { errorResponses, sendError } from '../errors.ts';
import { jsonValue, looseObject } from './json.ts';
import { redactObject } from '../../config/secret-fields.ts';

const HOUR = 3_600_000;
/** Enough for a sparkline; older points of the hour are thinned out evenly. */
const CHART_POINTS = 120;

const deviceBody = {
  ...looseObject("A device exactly as in the config file (id, driver, the driver's own fields, points...); validated by the config schema"),
  required: ['id', 'driver'],
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ID_PATTERN.source } } } as const;

/** The devices list of the YAML file as written (no defaults filled in), for the edit form. */
export function fileDevices(doc: Document): Array<Record<string, unknown>> {
  const devices = doc.get('devices');
  return isSeq(devices) ? (devices.toJSON() as Array<Record<string, unknown>>) : [];
}

export async function deviceRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.get(
    '/api/devices',
    {
      config: { auth: { token: 'read' } },
      schema: {
        tags: ['devices'],
        summary: 'Every configured device with its poll state and the live value, unit and quality of each point',
        response: { 200: { type: 'array', items: looseObject('id, name, driver, enabled, address (describe), addressText ({key, params} in the UI catalog, or null), state (DeviceState or null), points[], config (as in the file)') } },
      },
    },
    async () => {
      const status = ctx.gateway.status();
      const config = ctx.gateway.currentConfig();
      const raw = new Map(fileDevices(ctx.configStore.document()).map((d) => [d['id'], d]));
      return config.devices.map((d) => ({
        id: d.id,
        name: d.name ?? null,
        driver: d.driver,
        enabled: d.enabled,
        address: describeAddress(d),
        // The same line as a key of the UI's catalog (the driver's messages) and its parameters, or null.
        addressText: driverDefinition(d.driver)?.describeText?.(d) ?? null,
        intervalMs: d.intervalMs,
        state: status.devices.find((s) => s.deviceId === d.id) ?? null,
        points: d.points.map((p) => {
          const live = status.live[`${d.id}/${p.id}`];
          return {
            id: p.id,
            name: p.name ?? null,
            unit: p.unit ?? null,
            value: live ? jsonValue(live.value) : null,
            quality: live?.quality ?? null,
            ts: live?.ts ?? null,
            error: live?.error ?? null,
          };
        }),
        // Inline secrets (an OPC UA password) as the "unchanged" marker: a PUT with it keeps the stored one.
        config: redactObject(raw.get(d.id) ?? null),
      }));
    },
  );

  app.get(
    '/api/devices/:id/history',
    {
      config: { auth: { token: 'read' } },
      schema: {
        tags: ['devices'],
        summary: "Last hour of each numeric point of a device, from the local log (acknowledged readings are kept log.retainAckedMs)",
        params: idParams,
        response: {
          200: {
            type: 'object',
            additionalProperties: { type: 'array', items: { type: 'array', items: { type: ['number', 'null'] } } },
            description: 'point id -> [[ts, value], ...] oldest first; value null where a poll failed (a gap)',
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const device = ctx.gateway.currentConfig().devices.find((d) => d.id === id);
      if (!device) return sendError(reply, 404, 'not_found', `no device "${id}"`);
      const since = (ctx.now?.() ?? Date.now()) - HOUR;
      const out: Record<string, Array<[number, number | null]>> = {};
      for (const p of device.points) {
        const rows = ctx.gateway.recentReadings(`${id}/${p.id}`, since);
        // A failed poll is logged without a value: kept as null, so the chart shows a gap there
        // instead of a line drawn across the outage.
        const kept = rows.filter((r) => typeof r.value === 'number' || typeof r.value === 'boolean' || r.value === null);
        const step = Math.max(1, Math.ceil(kept.length / CHART_POINTS));
        out[p.id] = kept
          .filter((r, i) => r.value === null || i % step === 0 || i === kept.length - 1 || kept[i + 1]?.value === null || kept[i - 1]?.value === null)
          .map((r) => [r.ts, r.value === null ? null : Number(r.value)]);
      }
      return out;
    },
  );

  app.put(
    '/api/devices/:id',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['devices'],
        summary: 'Add or replace a device; validated like the file, written atomically, applied at once. 400 lists every problem by field path',
        params: idParams,
        body: deviceBody,
        response: { 200: { type: 'object', properties: { devices: { type: 'integer' }, warnings: warningsSchema } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = request.body as Record<string, unknown>;
      try {
        const config = await ctx.configStore.by(webChange(request)).edit((doc) => {
          const list = fileDevices(doc);
          const index = list.findIndex((d) => d['id'] === id);
          // Renaming onto another device's id would silently replace that device.
          if (body['id'] !== id && list.some((d) => d['id'] === body['id'])) throw new IdTaken(String(body['id']));
          if (!isSeq(doc.get('devices'))) doc.set('devices', doc.createNode([]));
          if (index >= 0) doc.setIn(['devices', index], doc.createNode(body));
          else doc.addIn(['devices'], doc.createNode(body));
        });
        return { devices: config.devices.length, warnings: savedWarnings(ctx, String(body['id'])) };
      } catch (err) {
        if (err instanceof IdTaken) return idTaken(reply, err.id);
        throw err;
      }
    },
  );

  app.post(
    '/api/devices',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['devices'],
        summary: 'Add a new device; 409 conflict when a device with its id exists already (nothing is changed: edit that one with PUT instead)',
        body: deviceBody,
        response: { 201: { type: 'object', properties: { devices: { type: 'integer' }, warnings: warningsSchema } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      try {
        // Checked under the store's lock: two engineers adding the same id at once get one 409.
        const config = await ctx.configStore.by(webChange(request)).edit((doc) => {
          if (fileDevices(doc).some((d) => d['id'] === body['id'])) throw new IdTaken(String(body['id']));
          if (!isSeq(doc.get('devices'))) doc.set('devices', doc.createNode([]));
          doc.addIn(['devices'], doc.createNode(body));
        });
        return reply.code(201).send({ devices: config.devices.length, warnings: savedWarnings(ctx, String(body['id'])) });
      } catch (err) {
        if (err instanceof IdTaken) return idTaken(reply, err.id);
        throw err;
      }
    },
  );

  app.delete(
    '/api/devices/:id',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['devices'],
        summary: 'Remove a device from the config and stop polling it (its logged readings stay in the log)',
        params: idParams,
        response: { 200: { type: 'object', properties: { devices: { type: 'integer' } } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const index = fileDevices(ctx.configStore.document()).findIndex((d) => d['id'] === id);
      if (index < 0) return sendError(reply, 404, 'not_found', `no device "${id}"`);
      const config = await ctx.configStore.by(webChange(request)).edit((doc) => {
        // Looked up again under the store's lock: another change may have moved it.
        const at = fileDevices(doc).findIndex((d) => d['id'] === id);
        if (at >= 0) doc.deleteIn(['devices', at]);
      });
      return { devices: config.devices.length };
    },
  );
}

const warningsSchema = { type: 'array', items: looseObject('path (relative to the device), message: saved, but probably wrong (config/warnings.ts)') } as const;

/**
 * What looks wrong in a device just saved (overlapping points, 4xxxx-looking addresses, points
 * beyond its profile's map): returned to the form and logged for the logs page, never refused.
 */
function savedWarnings(ctx: WebContext, deviceId: string): Array<{ path: string; message: string }> {
  let checked;
  try {
    checked = parseConfigWithWarnings(ctx.configStore.read(), 'config', undefined, { sinks: ctx.configStore.service.sinks });
  } catch {
    return []; // the file changed under us; its own save reports its problems
  }
  const index = checked.config.devices.findIndex((d) => d.id === deviceId);
  const prefix = `devices[${index}]`;
  const mine = checked.warnings
    .filter((w) => w.path.startsWith(`${prefix}.`))
    .map((w) => ({ path: w.path.slice(prefix.length + 1), message: w.message, code: w.code, params: w.params }));
  for (const w of mine) ctx.logger.warn({ device: deviceId, path: w.path, event: 'config_warning', code: w.code, params: w.params }, `config warning, device "${deviceId}" ${w.path}: ${w.message}`);
  return mine;
}

/** Thrown inside a config edit to abort it before anything is written. */
class IdTaken extends Error {
  constructor(readonly id: string) {
    super(`a device with id "${id}" exists already`);
  }
}

function idTaken(reply: FastifyReply, id: string): FastifyReply {
  return sendError(reply, 409, 'conflict', `a device with id "${id}" exists already: choose another id, or edit that device (nothing was changed)`);
}

/** Where a device is reached, in its driver's own words (drivers/<driver>/index.ts `describe`). */
function describeAddress(d: DeviceConfig): string {
  return driverDefinition(d.driver)?.describe(d) ?? '';
}
