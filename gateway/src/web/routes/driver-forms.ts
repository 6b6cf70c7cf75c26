import type { FastifyInstance } from 'fastify';
import { DRIVERS, type DriverDefinition } from '../../drivers/registry.ts';
import type { DriverForm } from '../../drivers/form.ts';
import type { WebContext } from '../context.ts';
import { looseObject } from './json.ts';
import { SECRET_MARKER } from '../../config/secret-fields.ts';

/** Each driver's own form description (drivers/<driver>/form.ts); the UI builds the device form from it. */
export async function driverFormRoutes(app: FastifyInstance, _ctx: WebContext): Promise<void> {
  app.get(
    '/api/drivers/forms',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['devices'],
        summary: 'The device form of every driver in drivers/registry.ts: fields, labels (ru/en), limits and choices from the config schema, a template device, whether it has a test read and takes profiles',
        response: { 200: { type: 'array', items: looseObject('driver, label {ru,en}, fields[], pointFields[], template, keys {key: shape}, testRead, profiles') } },
      },
    },
    // A failed build (a transient import error) is not kept: the next request tries again.
    async () =>
      (forms ??= driverForms(DRIVERS).catch((err: unknown) => {
        forms = undefined;
        throw err;
      })),
  );
}

/**
 * Password fields carry the marker GET /api/devices shows in place of a stored secret: the form
 * shows "unchanged" instead of it, and sends it back unless a new one is typed.
 */
export async function driverForms(drivers: readonly DriverDefinition[]) {
  return Promise.all(drivers.map(async (d) => withMarkers(d, await d.form())));
}

function withMarkers(d: DriverDefinition, form: DriverForm) {
  return {
    ...form,
    fields: form.fields.map((x) => (x.widget === 'password' ? { ...x, secretMarker: SECRET_MARKER } : x)),
    // What the form offers besides the fields: the test read button, the profile choice.
    testRead: d.testRead !== undefined,
    profiles: d.profileDefaults !== undefined,
    // The device pages the devices page links to for this driver (register tool, traffic view).
    tools: d.tools ?? [],
    // The fields already typed that a profile picked in the form does not replace (the link).
    profileKeeps: d.profileKeeps ?? [],
  };
}

/** Built on the first request (each form loads its form.ts then): a process that never serves it never builds one. */
let forms: ReturnType<typeof driverForms> | undefined;
