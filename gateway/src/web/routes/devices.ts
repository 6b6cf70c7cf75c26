import type { FastifyInstance } from 'fastify';
import { isSeq, type Document } from 'yaml';
import { ID_PATTERN } from '../../config/schema.ts';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import { jsonValue, looseObject } from './json.ts';

const HOUR = 3_600_000;
/** Enough for a sparkline; older points of the hour are thinned out evenly. */
const CHART_POINTS = 120;

const deviceBody = {
  ...looseObject('A device exactly as in the config file (id, driver, host, port, unitId, points...); validated by the config schema'),
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
      schema: {
        tags: ['devices'],
        summary: 'Every configured device with its poll state and the live value, unit and quality of each point',
        response: { 200: { type: 'array', items: looseObject('id, name, driver, enabled, state (DeviceState or null), points[], config (as in the file)') } },
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
        config: raw.get(d.id) ?? null,
      }));
    },
  );

  app.get(
    '/api/devices/:id/history',
    {
      schema: {
        tags: ['devices'],
        summary: "Last hour of each numeric point of a device, from the local log (acknowledged readings are kept log.retainAckedMs)",
        params: idParams,
        response: {
          200: {
            type: 'object',
            additionalProperties: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
            description: 'point id -> [[ts, value], ...] oldest first',
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
      const out: Record<string, number[][]> = {};
      for (const p of device.points) {
        const rows = ctx.gateway.log.recentReadings(`${id}/${p.id}`, since);
        const numeric = rows.filter((r) => typeof r.value === 'number' || typeof r.value === 'boolean');
        const step = Math.max(1, Math.ceil(numeric.length / CHART_POINTS));
        out[p.id] = numeric.filter((_, i) => i % step === 0 || i === numeric.length - 1).map((r) => [r.ts, Number(r.value)]);
      }
      return out;
    },
  );

  app.put(
    '/api/devices/:id',
    {
      schema: {
        tags: ['devices'],
        summary: 'Add or replace a device; validated like the file, written atomically, applied at once. 400 lists every problem by field path',
        params: idParams,
        body: deviceBody,
        response: { 200: { type: 'object', properties: { devices: { type: 'integer' } } }, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const body = request.body as Record<string, unknown>;
      const config = await ctx.configStore.edit((doc) => {
        const list = fileDevices(doc);
        const index = list.findIndex((d) => d['id'] === id);
        if (!isSeq(doc.get('devices'))) doc.set('devices', doc.createNode([]));
        if (index >= 0) doc.setIn(['devices', index], doc.createNode(body));
        else doc.addIn(['devices'], doc.createNode(body));
      });
      return { devices: config.devices.length };
    },
  );

  app.delete(
    '/api/devices/:id',
    {
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
      const config = await ctx.configStore.edit((doc) => {
        // Looked up again under the store's lock: another change may have moved it.
        const at = fileDevices(doc).findIndex((d) => d['id'] === id);
        if (at >= 0) doc.deleteIn(['devices', at]);
      });
      return { devices: config.devices.length };
    },
  );
}

/** Where a device is reached, whatever its driver. */
function describeAddress(d: object): string {
  const x = d as { host?: string; port?: number; unitId?: number; endpointUrl?: string; path?: string };
  if (x.host !== undefined) return `${x.host}:${x.port} unit ${x.unitId}`;
  if (x.endpointUrl !== undefined) return x.endpointUrl;
  if (x.path !== undefined) return `${x.path}${x.unitId !== undefined ? ` unit ${x.unitId}` : ''}`;
  return '';
}
