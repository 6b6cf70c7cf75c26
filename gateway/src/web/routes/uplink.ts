import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Document } from 'yaml';
import type { WebContext } from '../context.ts';
import { webChange } from '../web-change.ts';
import { errorResponses, sendError } from '../errors.ts';
import { looseObject } from './json.ts';
import { secretRoots, writeSecretFile } from '../../secrets.ts';
import { BrokerSecretError, brokerConnection, mqttClientOptions, type BrokerConnection } from '../../mqtt-connection.ts';
import { endpointOf, redactUrl, sameEndpoint, URL_SECRET_MARKER } from '../../config/secret-fields.ts';
import { sinkEndpointText } from '../../config/sink-credentials.ts';
import { fileUplinkSettings } from './uplink-forms.ts';

const TLS_KINDS = ['ca', 'cert', 'key'] as const;
type TlsKind = (typeof TLS_KINDS)[number];

interface UplinkForm {
  url: string;
  clientId?: string;
  username?: string;
  /** Absent: keep the stored one; empty: remove it. */
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean } | null;
}

const optionalText = { type: 'string', maxLength: 4096 } as const;
const uplinkBody = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: {
    url: { type: 'string', maxLength: 2048 },
    clientId: optionalText,
    username: optionalText,
    password: optionalText,
    tls: {
      anyOf: [
        {
          type: 'object',
          additionalProperties: false,
          properties: { ca: optionalText, cert: optionalText, key: optionalText, rejectUnauthorized: { type: 'boolean' } },
        },
        { type: 'null' },
      ],
      description: 'paths of PEM files (upload them with POST /api/uplink/tls/{kind}); null removes TLS settings',
    },
  },
} as const;

/**
 * Where the edited uplink (config.uplink, the first MQTT one) sits in the file: the entry of
 * `uplinks:` with its name, or the deprecated single `uplink:` section.
 */
function sectionOf(doc: Document, name: string): Array<string | number> {
  const list = doc.get('uplinks') as { items?: Array<{ get?: (k: string) => unknown }> } | undefined;
  if (!list?.items) return ['uplink'];
  const i = list.items.findIndex((item) => item.get?.('name') === name);
  if (i < 0) throw new Error(`uplink "${name}" is not in the file's uplinks list`);
  return ['uplinks', i];
}

/** Sets `key` under the edited uplink's section, or removes it when empty, keeping the rest of the section. */
function put(doc: Document, section: Array<string | number>, path: string[], value: string | boolean | undefined): void {
  if (value === undefined || value === '') doc.deleteIn([...section, ...path]);
  else doc.setIn([...section, ...path], value);
}

export async function uplinkRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  const tlsDir = join(ctx.dataDir, 'tls');

  app.get(
    '/api/uplink',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['uplink'],
        summary: 'Uplink settings (the password is never sent back) and the live uplink state',
        response: {
          200: {
            type: 'object',
            properties: {
              url: { type: 'string' },
              clientId: { type: ['string', 'null'] },
              username: { type: ['string', 'null'] },
              hasPassword: { type: 'boolean' },
              tls: { anyOf: [looseObject('ca, cert, key (paths), rejectUnauthorized'), { type: 'null' }] },
              status: { anyOf: [looseObject('UplinkStatus'), { type: 'null' }] },
            },
          },
        },
      },
    },
    async () => {
      const u = ctx.gateway.currentConfig().uplink;
      return {
        url: redactUrl(u.url),
        clientId: u.clientId ?? null,
        username: u.username ?? null,
        hasPassword: u.password !== undefined || u.passwordFile !== undefined,
        tls: u.tls ?? null,
        status: ctx.gateway.status().uplink,
      };
    },
  );

  app.get(
    '/api/uplinks',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['uplink'],
        summary: 'Every configured uplink (`uplinks:`): kind, where it sends to, its live state, log position, unsent and evicted readings',
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                kind: { type: 'string' },
                primary: { type: 'boolean', description: 'the uplink commands and update offers use, and PUT /api/uplink edits' },
                url: { type: 'string' },
                unsent: { type: 'integer' },
                evicted: { type: 'integer' },
                status: { anyOf: [looseObject('the sink status: state, url, ackedSeq, readingsAcked, lastError...'), { type: 'null' }] },
                settings: {
                  anyOf: [looseObject('the entry as in the file (no defaults), inline secrets as "(secret: unchanged)"; PUT /api/uplinks/{name} saves it'), { type: 'null' }],
                },
              },
            },
          },
        },
      },
    },
    async () => {
      const config = ctx.gateway.currentConfig();
      const s = ctx.gateway.status();
      const settings = fileUplinkSettings(ctx.configStore);
      const unsent = new Map((s.log.sinks ?? []).map((c) => [c.name, c.unacked]));
      return config.uplinks.map((u) => {
        const live = (s.uplinks ?? []).find((x) => x.name === u.name);
        return {
          name: u.name,
          kind: u.kind,
          primary: u.name === config.uplink.name,
          // Where it sends, as its sink names its endpoint (a sink need not have a `url`).
          url: redactUrl(String(sinkEndpointText(u, ctx.configStore.service.sinkDefinitions) ?? '')),
          unsent: unsent.get(u.name) ?? 0,
          evicted: live?.evicted ?? 0,
          // Absent: it could not start (a secret file gone); the log says why.
          status: live?.status ?? null,
          settings: settings.get(u.name) ?? null,
        };
      });
    },
  );

  app.put(
    '/api/uplink',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['uplink'],
        summary: 'Change broker URL, client id, credentials, TLS files; validated, written atomically and applied (the uplink reconnects)',
        body: uplinkBody,
        response: { 200: { type: 'object', properties: { url: { type: 'string' } } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const form = request.body as UplinkForm;
      const current = ctx.gateway.currentConfig().uplink;
      // Keeping the stored password (no password in the form) while moving to another broker
      // would hand it to whoever runs that one: it must be typed again.
      const storedHasPassword = current.password !== undefined || current.passwordFile !== undefined || /:[^/@]*@/.test(current.url);
      if (form.password === undefined && storedHasPassword && !sameEndpoint(form.url, current.url)) {
        return sendError(
          reply,
          400,
          'credentials_for_other_host',
          `the stored password is only sent to the stored broker (${endpointOf(current.url)}); type the password (or an empty one) to use ${endpointOf(form.url)}`,
        );
      }
      const config = await ctx.configStore.by(webChange(request)).edit((doc) => {
        const at = sectionOf(doc, current.name);
        put(doc, at, ['url'], form.url);
        put(doc, at, ['clientId'], form.clientId);
        put(doc, at, ['username'], form.username);
        if (form.password !== undefined) {
          put(doc, at, ['password'], form.password);
          if (form.password !== '') doc.deleteIn([...at, 'passwordFile']);
        }
        if (form.tls === null) doc.deleteIn([...at, 'tls']);
        else if (form.tls) {
          for (const k of TLS_KINDS) put(doc, at, ['tls', k], form.tls[k]);
          put(doc, at, ['tls', 'rejectUnauthorized'], form.tls.rejectUnauthorized);
        }
      });
      return { url: config.uplink.url };
    },
  );

  app.post(
    '/api/uplink/test',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['uplink'],
        summary: 'Try to connect to the broker with the proposed settings (nothing is saved); reports success or the error',
        body: uplinkBody,
        response: {
          200: { type: 'object', properties: { ok: { type: 'boolean' }, error: { type: ['string', 'null'] }, ms: { type: 'number' } } },
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const form = request.body as UplinkForm;
      const config = ctx.gateway.currentConfig();
      const current = config.uplink;
      // Paths as the form gives them, relative to the config file like the file's own.
      const tlsPath = (k: TlsKind) => (form.tls?.[k] ? resolve(dirname(ctx.configStore.path), form.tls[k]!) : undefined);
      // The stored password goes only where it is stored for: a test against another broker (or
      // the same one without TLS) would otherwise hand it to whoever runs that broker.
      const storedHasPassword = current.password !== undefined || current.passwordFile !== undefined;
      const sameBroker = sameEndpoint(form.url, current.url);
      if (form.password === undefined && storedHasPassword && !sameBroker && form.username) {
        return sendError(
          reply,
          400,
          'credentials_for_other_host',
          `the stored password is only sent to the stored broker (${endpointOf(current.url)}); type the password to test ${endpointOf(form.url)}`,
        );
      }
      // The URL as GET /api/uplink shows it (its password as the marker) stands for the stored one.
      const url = form.url.includes(URL_SECRET_MARKER) && sameBroker ? current.url : form.url;
      if (url.includes(URL_SECRET_MARKER)) {
        return sendError(reply, 400, 'credentials_for_other_host', `the stored password is only sent to the stored broker (${endpointOf(current.url)})`);
      }
      // The stored password (inline or its file) only for the stored broker; an empty one is none.
      const stored = form.password === undefined && sameBroker;
      let connection: BrokerConnection;
      try {
        connection = brokerConnection(
          {
            url,
            // Its own client id: reusing the live one would make the broker drop the running uplink.
            clientId: form.clientId || current.clientId || 'kedge',
            username: form.username || undefined,
            password: stored ? current.password : form.password || undefined,
            passwordFile: stored ? current.passwordFile : undefined,
            tls: form.tls ? { ca: tlsPath('ca'), cert: tlsPath('cert'), key: tlsPath('key'), rejectUnauthorized: form.tls.rejectUnauthorized } : undefined,
            keepaliveSec: current.keepaliveSec,
          },
          { gatewayId: config.gateway.id, roots: secretRoots(config), clientSuffix: `-test-${randomBytes(3).toString('hex')}` },
        );
      } catch (err) {
        if (!(err instanceof BrokerSecretError)) throw err;
        const what = err.field === 'passwordFile' ? 'the stored password file' : 'TLS file';
        return sendError(reply, 400, 'validation', `cannot use ${what}: ${err.message}`);
      }
      return testConnection(url, mqttClientOptions(connection));
    },
  );

  app.post(
    '/api/uplink/tls/:kind',
    {
      config: { auth: 'session' },
      schema: {
        tags: ['uplink'],
        summary: 'Upload a PEM file (CA certificate, client certificate or client key); stored under <dataDir>/tls/ with mode 0600. Returns the path to put in the uplink settings',
        params: { type: 'object', required: ['kind'], properties: { kind: { type: 'string', enum: [...TLS_KINDS] } } },
        body: { type: 'object', required: ['pem'], additionalProperties: false, properties: { pem: { type: 'string', maxLength: 200_000 } } },
        response: { 200: { type: 'object', properties: { path: { type: 'string' } } }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { kind } = request.params as { kind: TlsKind };
      const { pem } = request.body as { pem: string };
      const expected = kind === 'key' ? /-----BEGIN [A-Z ]*PRIVATE KEY-----/ : /-----BEGIN CERTIFICATE-----/;
      if (!expected.test(pem)) {
        const what = kind === 'key' ? 'a PEM private key (-----BEGIN PRIVATE KEY-----)' : 'a PEM certificate (-----BEGIN CERTIFICATE-----)';
        return sendError(reply, 400, 'bad_certificate', `the ${kind} file must be ${what}`);
      }
      mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
      const path = join(tlsDir, `${kind}.pem`);
      writeSecretFile(path, pem);
      return { path };
    },
  );
}

async function testConnection(url: string, options: IClientOptions): Promise<{ ok: boolean; error: string | null; ms: number }> {
  // Loaded by the first test, not with the web server: most processes that build one never connect from it.
  // `default`, not the named export: esbuild's chunk of a CommonJS package exports only that.
  const { default: mqtt } = await import('mqtt');
  const started = Date.now();
  let client: MqttClient;
  try {
    client = mqtt.connect(url, { ...options, reconnectPeriod: 0, connectTimeout: 5000, clean: true });
  } catch (err) {
    return { ok: false, error: (err as Error).message, ms: 0 };
  }
  const outcome = await new Promise<string | null>((resolve) => {
    const timer = setTimeout(() => resolve('no answer from the broker within 6 s'), 6000);
    const done = (error: string | null) => {
      clearTimeout(timer);
      resolve(error);
    };
    client.once('connect', () => done(null));
    // `on`, not `once`: mqtt.js may emit a second error (connack timeout) while ending.
    client.on('error', (err) => done(err.message));
    client.once('close', () => done('connection closed by the broker or the network'));
  });
  await client.endAsync(true).catch(() => {});
  return { ok: outcome === null, error: outcome, ms: Date.now() - started };
}
