import type { FastifyInstance } from 'fastify';
import { ConfigError, parseConfigWithWarnings } from '../../config/load.ts';
import type { DeviceConfig } from '../../config/schema.ts';
import { DRIVERS, driverDefinition } from '../../drivers/registry.ts';
import { driverContext } from '../../driver-context.ts';
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
    const { config, warnings } = parseConfigWithWarnings(text, 'device', undefined, { sinks: ctx.configStore.service.sinks });
    // What looks wrong (overlaps, 4xxxx addresses, beyond the profile's map) is shown, not refused.
    // Only the device's own: the config around it is a stand-in (its uplink: key, for one).
    return { device: config.devices[0]!, warnings: warnings.filter((w) => w.path.startsWith('devices[0]')).map((w) => ({ path: w.path.replace(/^devices\[0\]\.?/, ''), message: w.message, code: w.code, params: w.params })) };
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
          'Poll an unsaved device once, by its driver (every driver with a test read: GET /api/drivers/forms, testRead): for every point the value and quality; Modbus also the raw registers and the value in all four byte orders (ABCD, CDAB, BADC, DCBA) side by side. 400 unsupported for a driver without one',
        body: looseObject('A device as in the config file; nothing is saved'),
        response: {
          200: {
            type: 'object',
            properties: {
              orders: { type: 'array', items: { type: 'string' } },
              points: {
                type: 'array',
                items: looseObject(
                  'point, name, unit, type, where ("holding 101 (protocol 100)", an OPC UA node id), raw[] or null, value (unscaled), scaled, orders {ABCD,CDAB,BADC,DCBA} or null, quality, error; Modbus also order, table, address (in the device numbering)',
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
      const { device, warnings } = parseDevice(ctx, request.body);
      const driver = driverDefinition(device.driver);
      if (!driver?.testRead) {
        const able = DRIVERS.filter((d) => d.testRead).map((d) => d.kind).join(', ');
        return sendError(reply, 400, 'unsupported', `the ${device.driver} driver has no test read (drivers with one: ${able}); save the device and watch its values on the devices page`);
      }
      const result = await driver.testRead(device, driverContext(ctx.gateway.currentConfig(), ctx.logger));
      const points = new Map<string, DeviceConfig['points'][number]>(device.points.map((p) => [p.id, p]));
      return {
        orders: [...result.orders],
        warnings,
        points: result.points.map((r) => {
          const p = points.get(r.point)!;
          return {
            ...r,
            name: p.name ?? null,
            unit: p.unit ?? null,
            type: ('type' in p ? p.type : undefined) ?? null,
            raw: r.raw,
            value: jsonValue(r.value),
            scaled: r.value === null ? null : jsonValue(scale(r.value, p)),
            orders: r.orders ? Object.fromEntries(Object.entries(r.orders).map(([k, v]) => [k, jsonValue(v)])) : null,
            error: r.error ?? null,
          };
        }),
      };
    },
  );
}
