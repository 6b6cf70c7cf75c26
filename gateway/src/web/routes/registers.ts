import type { FastifyInstance } from 'fastify';
import { driverDefinition } from '../../drivers/registry.ts';
import { classifyModbusError } from '../../drivers/modbus/errors.ts';
import { MODBUS_TABLES, type ModbusTable } from '../../drivers/modbus/types.ts';
import type { ModbusTransport } from '../../drivers/modbus/transport.ts';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';

/** The Modbus limits of one read: 125 registers (FC 3/4), 2000 bits (FC 1/2). */
const MAX_COUNT: Record<ModbusTable, number> = { holding: 125, input: 125, coil: 2000, discrete: 2000 };

/**
 * The register tool's read: any table and address range of a configured Modbus device (or
 * another unit id on its link), raw. Decoding in every type and order is the UI's: the words
 * are all it needs. Read-only; writes go through the point write route (writable points only).
 */
export async function registerRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  app.post(
    '/api/devices/:id/registers/read',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['devices'],
        summary: 'Read a range of one Modbus table of a device (protocol addresses, 0-based) over its link; raw words or bits',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
        body: {
          type: 'object',
          required: ['table', 'address', 'count'],
          additionalProperties: false,
          properties: {
            table: { type: 'string', enum: [...MODBUS_TABLES] },
            address: { type: 'integer', minimum: 0, maximum: 65535 },
            count: { type: 'integer', minimum: 1, maximum: 2000 },
            unitId: { type: 'integer', minimum: 0, maximum: 255, description: "another unit on the device's link (RS-485 bus or TCP gateway)" },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              table: { type: 'string' },
              address: { type: 'integer' },
              unitId: { type: 'integer' },
              ms: { type: 'number' },
              words: { type: 'array', items: { type: ['integer', 'boolean'] } },
              error: { type: ['string', 'null'] },
              exception: { type: ['integer', 'null'] },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const q = request.body as { table: ModbusTable; address: number; count: number; unitId?: number };
      const device = ctx.gateway.currentConfig().devices.find((d) => d.id === id);
      if (!device) return sendError(reply, 404, 'not_found', `no device "${id}"`);
      // Only a driver that says how to reach its Modbus link: one added later is refused here, not read as Modbus.
      const definition = driverDefinition(device.driver);
      const link = definition?.tools?.includes('registers') ? definition.modbusLink : undefined;
      if (!link) return sendError(reply, 400, 'unsupported', 'the register tool is for Modbus devices');
      if (q.count > MAX_COUNT[q.table]) return sendError(reply, 400, 'validation', `at most ${MAX_COUNT[q.table]} ${q.table === 'coil' || q.table === 'discrete' ? 'bits' : 'registers'} per read`);
      if (q.address + q.count - 1 > 65535) return sendError(reply, 400, 'validation', 'the range ends past address 65535');
      const unitId = q.unitId ?? (device as { unitId: number }).unitId;
      const read = async (t: ModbusTransport) => {
        const started = performance.now();
        try {
          const words = await t.read(unitId, q.table, q.address, q.count, (device as { timeoutMs: number }).timeoutMs);
          return { table: q.table, address: q.address, unitId, ms: Math.round(performance.now() - started), words, error: null, exception: null };
        } catch (err) {
          const c = classifyModbusError(err);
          if (c.resetLink) await t.reset().catch(() => {});
          return { table: q.table, address: q.address, unitId, ms: Math.round(performance.now() - started), words: [], error: c.message, exception: c.exception ?? null };
        }
      };
      ctx.logger.info({ device: id, unitId, table: q.table, address: q.address, count: q.count, user: request.session?.user }, 'register tool read');
      return link.use(device as never, read);
    },
  );
}
