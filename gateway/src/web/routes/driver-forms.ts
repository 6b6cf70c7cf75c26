import type { FastifyInstance } from 'fastify';
import { modbusRtuForm } from '../../drivers/modbus-rtu/form.ts';
import { modbusTcpForm } from '../../drivers/modbus-tcp/form.ts';
import { opcuaForm } from '../../drivers/opcua/form.ts';
import type { WebContext } from '../context.ts';
import { looseObject } from './json.ts';
import { SECRET_MARKER } from '../secret-fields.ts';

/** Each driver's own form description (drivers/<driver>/form.ts); the UI builds the device form from it. */
export async function driverFormRoutes(app: FastifyInstance, _ctx: WebContext): Promise<void> {
  app.get(
    '/api/drivers/forms',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['devices'],
        summary: 'The device form of every driver: fields, labels (ru/en), limits and choices from the config schema, a template device',
        response: { 200: { type: 'array', items: looseObject('driver, label {ru,en}, fields[], pointFields[], template') } },
      },
    },
    async () => FORMS,
  );
}

/**
 * Password fields carry the marker GET /api/devices shows in place of a stored secret: the form
 * shows "unchanged" instead of it, and sends it back unless a new one is typed.
 */
const FORMS = [modbusTcpForm, modbusRtuForm, opcuaForm].map((f) => ({
  ...f,
  fields: f.fields.map((x) => (x.widget === 'password' ? { ...x, secretMarker: SECRET_MARKER } : x)),
}));
