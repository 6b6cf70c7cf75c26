import type { FastifyInstance } from 'fastify';
import { ConfigError, parseConfigWithWarnings } from '../../config/load.ts';
import { testReadModbusTcp } from '../../drivers/modbus-tcp/index.ts';
import { BYTE_ORDERS } from '../../drivers/modbus/types.ts';
import { scale } from '../../pipeline/pipeline.ts';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import { jsonValue, looseObject } from './json.ts';

/**
 * Validates one device the way the file would be validated, with paths relative to the device
 * (`points[1].address`), by placing it in a copy of the running config.
 */
function parseDevice(ctx: WebContext, device: unknown) {
  const current = ctx.gateway.currentConfig();
  const text = JSON.stringify({ gateway: current.gateway, uplink: { url: current.uplink.url }, devices: [device] });
  try {
    const { config, warnings } = parseConfigWithWarnings(text, 'device');
    // What looks wrong (overlaps, 4xxxx addresses, beyond the profile's map) is shown, not refused.
    return { device: config.devices[0]!, warnings: warnings.map((w) => ({ path: w.path.replace(/^devices\[0\]\.?/, ''), message: w.message, code: w.code, params: w.params })) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const issues = err.issues.map((i) => ({ path: i.path.replace(/^devices\[0\]\.?/, ''), message: i.message }));
    throw new ConfigError('device', issues);
  }
}

export async function testReadRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.post(
    '/api/devices/test-read',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['devices'],
        summary:
          'Poll an unsaved device once: for every point the raw registers, the value in the configured byte order and in all four orders (ABCD, CDAB, BADC, DCBA) side by side',
        body: looseObject('A device as in the config file; nothing is saved'),
        response: {
          200: {
            type: 'object',
            properties: {
              orders: { type: 'array', items: { type: 'string' } },
              points: {
                type: 'array',
                items: looseObject(
                  'point, name, unit, type, order, table, address (in the device numbering), where ("holding 101 (protocol 100)"), raw[], value (unscaled), scaled, orders {ABCD,CDAB,BADC,DCBA} or null, quality, error',
                ),
              },
              warnings: { type: 'array', items: looseObject('path (relative to the device), message: valid but probably wrong') },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { device: parsed, warnings } = parseDevice(ctx, request.body);
      if (parsed.driver !== 'modbus-tcp') {
        return sendError(reply, 400, 'validation', `test read supports modbus-tcp devices (got driver ${parsed.driver})`);
      }
      const device = parsed;
      const results = await testReadModbusTcp(device);
      return {
        orders: [...BYTE_ORDERS],
        warnings,
        points: results.map((r, i) => {
          const p = device.points[i]!;
          return {
            point: r.point,
            name: p.name ?? null,
            unit: p.unit ?? null,
            type: p.type,
            order: p.order,
            table: p.table,
            address: p.address,
            where: r.where,
            raw: r.raw,
            value: jsonValue(r.value),
            scaled: r.value === null ? null : jsonValue(scale(r.value, p)),
            orders: r.orders ? Object.fromEntries(Object.entries(r.orders).map(([k, v]) => [k, jsonValue(v)])) : null,
            quality: r.quality,
            error: r.error ?? null,
          };
        }),
      };
    },
  );
}
