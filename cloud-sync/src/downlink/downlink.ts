import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { jittered } from '../backoff.ts';
import type { GatewayIdentity } from '../topics.ts';
import type { UplinkLogger } from '../north/sink.ts';
import { redactUrl } from '../redact.ts';
import { commandFilter, kindOfTopic, responseTopic, type CommandResponse } from './envelope.ts';

export interface DownlinkOptions {
  identity: GatewayIdentity;
  url: string;
  /** The uplink's client id plus `-cmd`: a second, persistent session next to the clean uplink one. */
  clientId: string;
  username?: string | undefined;
  password?: string | undefined;
  tls?: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined; rejectUnauthorized?: boolean } | undefined;
  keepaliveSec?: number;
  reconnectMs?: number;
  /** Executes one command message; never throws for a bad command, answers with ok: false. */
  handle: (kind: string, payload: Buffer) => Promise<CommandResponse>;
  logger: UplinkLogger;
  /** How long a stop waits for the answers in flight to be acknowledged; default RESPONSE_FLUSH_MS. */
  responseFlushMs?: number;
}

/**
 * How long a stop (a shutdown, a move to another broker) waits for command answers still in
 * flight to be acknowledged before it drops the connection. mqtt.js's graceful end waits for
 * every PUBACK, and with the broker gone none comes: the shutdown would hang into the daemon's
 * grace. Answers are not journaled for a later resend (only the command-id store keeps them,
 * to answer a redelivery or a center retry of the same id), so each one dropped is logged.
 */
export const RESPONSE_FLUSH_MS = 2000;

/** An answer published and not yet acknowledged by the broker. */
interface InFlight {
  id: string | null;
  kind: string;
}

/**
 * Receives commands for one gateway and publishes the answers.
 *
 * A persistent session (clean: false, QoS 1 subscription) rather than the uplink's clean one:
 * the broker keeps commands sent while the box is offline and delivers them on reconnect (the
 * freshness check then refuses those that waited too long). The PUBACK of a command is sent
 * only after it has been executed and its answer stored, so a power cut mid-command makes the
 * broker deliver it again, and the command-id store turns that into a repeat of the answer.
 * Commands are executed one at a time, in arrival order.
 */
export class Downlink {
  private client: MqttClient | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private connected = false;
  private readonly inFlight = new Set<InFlight>();
  private dropped = 0;
  /** Set while a stop waits for the answers in flight: called as each one settles. */
  private settled: (() => void) | null = null;

  constructor(private readonly o: DownlinkOptions) {}

  get isConnected(): boolean {
    return this.connected;
  }

  /** Answers that were never acknowledged by the broker when a stop ended the connection. */
  get droppedResponses(): number {
    return this.dropped;
  }

  start(): void {
    if (this.client) return;
    const opts: IClientOptions = {
      clientId: this.o.clientId,
      clean: false,
      protocolVersion: 4,
      keepalive: this.o.keepaliveSec ?? 30,
      // Jitter: a fleet reconnecting after a broker restart must not arrive in lockstep.
      reconnectPeriod: Math.round(jittered(this.o.reconnectMs ?? 5000, 0.2)),
      connectTimeout: 15_000,
      username: this.o.username,
      password: this.o.password,
      ...(this.o.tls ?? {}),
    };
    const client = mqtt.connect(this.o.url, opts);
    this.client = client;
    const filter = commandFilter(this.o.identity);
    // mqtt.js acknowledges a QoS 1 message when `callback` is called: only after execution.
    client.handleMessage = (packet: IPublishPacket, callback) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      this.chain = this.chain.then(() => this.process(client, packet.topic, payload)).finally(() => callback());
    };
    client.on('connect', (ack) => {
      this.connected = true;
      // Re-subscribing is harmless when the session survived and required when the broker lost it.
      client.subscribe(filter, { qos: 1 }, (err) => {
        if (err) this.o.logger.warn({ err: err.message, filter }, 'command subscription failed');
        else this.o.logger.info({ filter, sessionPresent: ack.sessionPresent, url: redactUrl(this.o.url) }, 'command downlink subscribed');
      });
    });
    client.on('close', () => {
      this.connected = false;
    });
    client.on('error', (err) => this.o.logger.warn({ err: err.message }, 'command downlink error'));
  }

  private async process(client: MqttClient, topic: string, payload: Buffer): Promise<void> {
    const kind = kindOfTopic(this.o.identity, topic);
    if (kind === null) return;
    let response: CommandResponse;
    try {
      response = await this.o.handle(kind, payload);
    } catch (err) {
      response = { id: null, ok: false, error: { code: 'internal', message: (err as Error).message } };
    }
    // Not awaited: mqtt.js reads no further packet (the PUBACK included) until the command's
    // own acknowledgement callback has run. The outgoing store resends it after a reconnect.
    const entry: InFlight = { id: response.id, kind };
    this.inFlight.add(entry);
    client.publish(responseTopic(this.o.identity, kind), JSON.stringify(response), { qos: 1 }, (err) => {
      // Not in the set any more: the stop has already reported it as dropped.
      if (!this.inFlight.delete(entry)) return;
      this.settled?.();
      if (err) this.o.logger.warn({ err: err.message, id: response.id }, 'command response not published');
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    await this.chain.catch(() => undefined);
    await this.flush(client, this.o.responseFlushMs ?? RESPONSE_FLUSH_MS);
    for (const entry of this.inFlight) {
      this.dropped++;
      this.o.logger.warn(
        { id: entry.id, kind: entry.kind, dropped: this.dropped },
        'command response dropped at stop: the broker never acknowledged it (the command was executed)',
      );
    }
    this.inFlight.clear();
    await client.endAsync(true);
  }

  /** Waits, while the link is up and at most `flushMs`, for the answers in flight to be acknowledged. */
  private async flush(client: MqttClient, flushMs: number): Promise<void> {
    if (!client.connected || this.inFlight.size === 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off('close', done);
        this.settled = null;
        resolve();
      };
      // Referenced: it also keeps the process alive while the broker has the last word.
      const timer = setTimeout(done, flushMs);
      client.on('close', done);
      this.settled = () => void (this.inFlight.size === 0 && done());
    });
  }
}
