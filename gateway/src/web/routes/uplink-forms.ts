/**
 * Every uplink as its own sink describes it: the form of each registered sink kind
 * (north/<sink>/form.ts) and the save of one `uplinks:` entry by name. The save goes through
 * the config store like every web change (same schema, secret markers, credentials kept with
 * their endpoint); the page has no code of any kind.
 */
import type { FastifyInstance } from 'fastify';
import { isMap, isSeq, type Document } from 'yaml';
import { parseConfigDocument } from '../../config/load.ts';
import { SINK_NAME_PATTERN } from '@kedge/cloud-sync/north/schema-kit.ts';
import { entryAsLegacySection, legacySectionAsEntry } from '@kedge/cloud-sync/north/legacy-uplink.ts';
import type { SinkDefinition } from '@kedge/cloud-sync/north/sink.ts';
import type { ConfigStore } from '../../config/config-store.ts';
import { redactConfigText, SECRET_MARKER } from '../../config/secret-fields.ts';
import type { WebContext } from '../context.ts';
import { webChange } from '../web-change.ts';
import { errorResponses, sendError } from '../errors.ts';
import { looseObject } from './json.ts';

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: SINK_NAME_PATTERN.source } } } as const;

/** The forms the page renders, password fields with the marker the settings carry for a stored secret. */
export async function sinkForms(defs: readonly SinkDefinition[]) {
  const forms = await Promise.all(defs.map(async (d) => (d.form ? { d, form: await d.form() } : null)));
  return forms
    .filter((f) => f !== null)
    .map(({ d, form }) => ({
      ...form,
      fields: form.fields.map((x) => (x.widget === 'password' ? { ...x, secretMarker: SECRET_MARKER } : x)),
      // The primary broker uplink's connection test (POST /api/uplink/test) applies to it.
      brokerTest: d.brokerLink === true,
    }));
}

/**
 * Every uplink's settings as in the file (no defaults filled in), inline secrets as the
 * "unchanged" markers the save restores; by name.
 */
export function fileUplinkSettings(store: ConfigStore): Map<string, Record<string, unknown>> {
  const doc = parseConfigDocument(redactConfigText(store.read()), store.path);
  const list = doc.get('uplinks');
  if (isSeq(list)) {
    const entries = list.toJSON() as Array<Record<string, unknown>>;
    return new Map(entries.filter((e) => e && typeof e.name === 'string').map((e) => [String(e.name), e]));
  }
  const legacy = doc.get('uplink');
  return isMap(legacy) ? new Map([['uplink', legacySectionAsEntry(legacy.toJSON() as Record<string, unknown>)]]) : new Map();
}

class NameTaken extends Error {}
class LegacyKind extends Error {}

/** Writes `entry` as the uplink `name` (replaced, or added when there is none of that name). */
function putEntry(doc: Document, name: string, entry: Record<string, unknown>): void {
  const list = doc.get('uplinks');
  if (isSeq(list)) {
    const names = (list.toJSON() as Array<Record<string, unknown>>).map((e) => e?.name);
    // Renaming onto another uplink would silently replace it (and hand it this one's cursor).
    if (entry.name !== name && names.includes(entry.name)) throw new NameTaken(String(entry.name));
    const i = names.indexOf(name);
    if (i >= 0) doc.setIn(['uplinks', i], doc.createNode(entry));
    else doc.addIn(['uplinks'], doc.createNode(entry));
    return;
  }
  const legacy = doc.get('uplink');
  if (isMap(legacy) && name === 'uplink' && entry.name === 'uplink') {
    // Edited where it is: its stored secrets keep their place (uplink.password), so the markers resolve.
    const section = entryAsLegacySection(entry);
    if (!section) throw new LegacyKind(String(entry.kind));
    doc.set('uplink', doc.createNode(section));
    return;
  }
  if (isMap(legacy) && entry.name === 'uplink') throw new NameTaken('uplink');
  // The single section renamed becomes a list of that one entry (its markers then name no
  // stored secret: the password must be typed); another name adds a second uplink after it.
  const first = isMap(legacy) && name !== 'uplink' ? [legacySectionAsEntry(legacy.toJSON() as Record<string, unknown>)] : [];
  doc.delete('uplink');
  doc.set('uplinks', doc.createNode([...first, entry]));
}

export async function uplinkFormRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  // The registry the config service reads the file against (the product's SINKS unless a test
  // composes one); its forms built on the first request, not with the server.
  let forms: ReturnType<typeof sinkForms> | undefined;
  app.get(
    '/api/uplinks/forms',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['uplink'],
        summary: 'The uplink form of every sink kind in north/registry.ts: fields, labels (ru/en), limits and choices from its config schema, a template entry',
        response: { 200: { type: 'array', items: looseObject('kind, label {ru,en}, fields[], template, keys {key: shape}') } },
      },
    },
    // A failed build (a transient import error) is not kept: the next request tries again.
    async () =>
      (forms ??= sinkForms(ctx.configStore.service.sinkDefinitions).catch((err: unknown) => {
        forms = undefined;
        throw err;
      })),
  );

  app.put(
    '/api/uplinks/:name',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['uplink'],
        summary:
          'Replace (or add) one `uplinks:` entry, as in the file (secrets as the "unchanged" marker keep the stored ones); validated like the file, written atomically, applied. 400 lists every problem by field path',
        params: nameParams,
        body: { ...looseObject('One uplinks: entry: kind, name and its sink\'s settings'), required: ['kind', 'name'] },
        response: { 200: { type: 'object', properties: { name: { type: 'string' }, uplinks: { type: 'integer' } } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const entry = request.body as Record<string, unknown>;
      try {
        const config = await ctx.configStore.by(webChange(request)).edit((doc) => putEntry(doc, name, entry));
        return { name: String(entry.name), uplinks: config.uplinks.length };
      } catch (err) {
        if (err instanceof NameTaken) return sendError(reply, 409, 'conflict', `an uplink named "${err.message}" exists already: choose another name, or edit that uplink (nothing was changed)`);
        if (err instanceof LegacyKind) {
          return sendError(reply, 400, 'validation', `the single uplink: section can only be an MQTT or Sparkplug uplink, not "${err.message}": move it into an uplinks: list (system page) first`);
        }
        throw err;
      }
    },
  );
}
