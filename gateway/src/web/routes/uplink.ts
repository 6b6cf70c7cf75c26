import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import type { Document } from 'yaml';
import type { WebContext } from '../context.ts';
import { errorResponses, sendError } from '../errors.ts';
import { looseObject } from './json.ts';
import { writeSecretFile } from '../../secrets.ts';

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

/** Sets `key` under uplink, or removes it when empty, keeping the rest of the section. */
function put(doc: Document, path: string[], value: string | boolean | undefined): void {
  if (value === undefined || value === '') doc.deleteIn(['uplink', ...path]);
  else doc.setIn(['uplink', ...path], value);
}

export async function uplinkRoutes(app: FastifyInstance, ctx: WebContext): Promise<void> {
  const tlsDir = join(ctx.dataDir, 'tls');

  app.get(
    '/api/uplink',
    {
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
        url: u.url,
        clientId: u.clientId ?? null,
        username: u.username ?? null,
        hasPassword: u.password !== undefined || u.passwordFile !== undefined,
        tls: u.tls ?? null,
        status: ctx.gateway.status().uplink,
      };
    },
  );

  app.put(
    '/api/uplink',
    {
      schema: {
        tags: ['uplink'],
        summary: 'Change broker URL, client id, credentials, TLS files; validated, written atomically and applied (the uplink reconnects)',
        body: uplinkBody,
        response: { 200: { type: 'object', properties: { url: { type: 'string' } } }, ...errorResponses },
      },
    },
    async (request) => {
      const form = request.body as UplinkForm;
      const config = await ctx.configStore.edit((doc) => {
        put(doc, ['url'], form.url);
        put(doc, ['clientId'], form.clientId);
        put(doc, ['username'], form.username);
        if (form.password !== undefined) {
          put(doc, ['password'], form.password);
          if (form.password !== '') doc.deleteIn(['uplink', 'passwordFile']);
        }
        if (form.tls === null) doc.deleteIn(['uplink', 'tls']);
        else if (form.tls) {
          for (const k of TLS_KINDS) put(doc, ['tls', k], form.tls[k]);
          put(doc, ['tls', 'rejectUnauthorized'], form.tls.rejectUnauthorized);
        }
      });
      return { url: config.uplink.url };
    },
  );

  app.post(
    '/api/uplink/test',
    {
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
      const current = ctx.gateway.currentConfig().uplink;
      let tls: Record<string, Buffer | boolean> = {};
      try {
        for (const k of TLS_KINDS) {
          const path = form.tls?.[k];
          if (path) tls[k] = readFileSync(path);
        }
      } catch (err) {
        return sendError(reply, 400, 'validation', `cannot read TLS file: ${(err as Error).message}`);
      }
      if (form.tls?.rejectUnauthorized === false) tls = { ...tls, rejectUnauthorized: false };
      const password =
        form.password ?? current.password ?? (current.passwordFile ? readFileSync(current.passwordFile, 'utf8').trim() : undefined);
      return testConnection(form.url, {
        // Its own client id: reusing the live one would make the broker drop the running uplink.
        clientId: `${form.clientId || current.clientId || 'kedge'}-test-${randomBytes(3).toString('hex')}`,
        ...(form.username ? { username: form.username } : {}),
        ...(password ? { password } : {}),
        ...tls,
      });
    },
  );

  app.post(
    '/api/uplink/tls/:kind',
    {
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

async function testConnection(url: string, options: mqtt.IClientOptions): Promise<{ ok: boolean; error: string | null; ms: number }> {
  const started = Date.now();
  let client: mqtt.MqttClient;
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
