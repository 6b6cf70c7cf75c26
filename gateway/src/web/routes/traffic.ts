import type { FastifyInstance } from 'fastify';
import { TRAFFIC_ENTRIES, trafficRing } from '../../drivers/modbus/traffic.ts';
import { driverDefinition } from '../../drivers/registry.ts';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import { looseObject } from './json.ts';

/** The link a Modbus device talks over, named as its driver names its shared links (DriverDefinition.modbusLink); null for a driver without the traffic view. */
export function modbusLinkKey(d: { driver: string }): string | null {
  const definition = driverDefinition(d.driver);
  const link = definition?.tools?.includes('traffic') ? definition.modbusLink : undefined;
  return link ? link.key(d as never) : null;
}

export async function trafficRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.get(
    '/api/devices/:id/traffic',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['devices'],
        summary: `The last requests to a Modbus device (function, address, count, time, answer or exception / timeout / bad frame; up to ${TRAFFIC_ENTRIES} per link) and its error counters since start`,
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: TRAFFIC_ENTRIES, default: 50 } } },
        response: {
          200: {
            type: 'object',
            properties: {
              link: { type: 'string' },
              unitId: { type: 'integer' },
              counters: looseObject('ok, exception, timeout, frame, link: requests by outcome'),
              entries: { type: 'array', items: looseObject('at, unitId, fn, table, address, count, durationMs, outcome, exception?, answer?, error?') },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const { limit } = request.query as { limit: number };
      const device = ctx.gateway.currentConfig().devices.find((d) => d.id === id);
      if (!device) return sendError(reply, 404, 'not_found', `no device "${id}"`);
      const key = modbusLinkKey(device);
      if (key === null) return sendError(reply, 400, 'unsupported', `the traffic view is for Modbus devices (driver ${device.driver})`);
      const ring = trafficRing(key);
      const { unitId } = device as { unitId: number };
      return { link: key, unitId, counters: ring.countersOf(unitId), entries: ring.recent(unitId, limit) };
    },
  );
}
