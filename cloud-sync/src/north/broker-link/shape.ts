/** The fields of every sink that talks to an MQTT broker (kedge mqtt, Sparkplug, any later one): spread into its schema, its entries are BrokerSinkBase (./link.ts). */
import { z } from 'zod';
import { checkMinMax, int, tlsSchema, windowShape } from '../schema-kit.ts';
import { brokerUrlAmbiguity } from './broker-url.ts';

const BROKER_PROTOCOLS = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

export const brokerUrlSchema = z.string().superRefine((v, ctx) => {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a URL; expected e.g. mqtts://broker.example.ru:8883` });
    return;
  }
  if (!BROKER_PROTOCOLS.includes(url.protocol)) {
    ctx.addIssue({ code: 'custom', message: `protocol must be one of ${BROKER_PROTOCOLS.join(', ')} (got ${url.protocol})` });
  }
  const ambiguous = brokerUrlAmbiguity(v);
  if (ambiguous) ctx.addIssue({ code: 'custom', message: ambiguous });
});

const topicPrefix = z
  .string()
  .min(1, { error: 'must not be empty' })
  .superRefine((v, ctx) => {
    if (/[+#]/.test(v)) ctx.addIssue({ code: 'custom', message: 'must not contain MQTT wildcards "+" or "#": it is used to publish' });
    if (v.startsWith('/') || v.endsWith('/')) ctx.addIssue({ code: 'custom', message: 'must not start or end with "/": the gateway adds the separators' });
  });

export const brokerShape = {
  url: brokerUrlSchema,
  clientId: z.string().min(1).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  passwordFile: z.string().min(1).optional(),
  topicPrefix: topicPrefix.default('kedge/v1'),
  ...windowShape,
  keepaliveSec: int(5, 3600).default(30),
  // 4: MQTT 3.1.1 (default). 5: topic aliases (a data topic's name goes once per connection,
  // bytes saved on metered links) and the broker's Receive Maximum caps the publishes in flight.
  // Sparkplug B 3.0 allows 5 (clean start, session expiry 0: what the sink sends).
  protocolVersion: z.union([z.literal(4), z.literal(5)], { error: 'must be 4 (MQTT 3.1.1, the default) or 5 (MQTT 5)' }).default(4),
  // Center mode: a center that answers but stays below data sent this long ago (its broker lost
  // some) gets it again from its own position; the wait doubles each time, up to 16x.
  resendAfterSilenceMs: int(1000, 86_400_000).default(120_000),
  tls: tlsSchema.optional(),
};

export function checkBroker(v: { password?: string | undefined; passwordFile?: string | undefined; reconnectMinMs: number; reconnectMaxMs: number }, ctx: z.core.$RefinementCtx): void {
  if (v.password !== undefined && v.passwordFile !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give either password or passwordFile, not both' });
  }
  checkMinMax(v, ctx, 'reconnectMinMs', 'reconnectMaxMs');
}
