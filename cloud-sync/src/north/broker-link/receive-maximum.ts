import type { IClientPublishOptions, MqttClient, PacketCallback } from 'mqtt';

/** The Receive Maximum an MQTT 5 broker has when its CONNACK names none (MQTT 5.0, 3.2.2.3.3). */
export const DEFAULT_RECEIVE_MAXIMUM = 65_535;

/** The Receive Maximum the broker announced in this connection's CONNACK (MQTT 5), else null. */
export function brokerReceiveMaximum(client: MqttClient): number | null {
  if (client.options.protocolVersion !== 5) return null;
  return client.serverProperties?.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM;
}

type Publish = (topic: string, message: string | Buffer, opts?: IClientPublishOptions | PacketCallback, callback?: PacketCallback) => MqttClient;

/**
 * Holds this client's QoS 1/2 publishes so that no more than `limit()` of them wait for their
 * acknowledgement at a time (MQTT 5 Receive Maximum: a broker closes the connection of a client
 * that sends more, reason 0x93, and mqtt.js does not count them itself). Every publish of the
 * client passes, whoever makes it (the transport's batches, the formats' births and deaths), in
 * the order made; QoS 0 messages that arrive while QoS 1 ones wait queue behind them, so the
 * order on the wire stays the order of the calls. Returns the number waiting + outstanding.
 */
export function limitOutstandingPublishes(client: MqttClient, limit: () => number | null): { outstanding(): number; held(): number } {
  const publish: Publish = client.publish.bind(client) as Publish;
  let outstanding = 0;
  const queue: { topic: string; message: string | Buffer; opts: IClientPublishOptions; cb: PacketCallback | undefined }[] = [];
  const release = () => {
    while (queue.length > 0) {
      const next = queue[0]!;
      const qos = next.opts.qos ?? 0;
      const max = limit();
      if (qos > 0 && max !== null && outstanding >= max) return;
      queue.shift();
      send(next.topic, next.message, next.opts, next.cb);
    }
  };
  const send = (topic: string, message: string | Buffer, opts: IClientPublishOptions, cb: PacketCallback | undefined) => {
    if ((opts.qos ?? 0) === 0) {
      publish(topic, message, opts, cb);
      return;
    }
    outstanding++;
    let settled = false;
    publish(topic, message, opts, (err, packet) => {
      if (!settled) {
        settled = true;
        outstanding--;
      }
      cb?.(err, packet);
      release();
    });
  };
  const limited: Publish = (topic, message, opts, callback) => {
    const o: IClientPublishOptions = typeof opts === 'function' || opts === undefined ? {} : opts;
    const cb = typeof opts === 'function' ? opts : callback;
    queue.push({ topic, message, opts: o, cb });
    release();
    return client;
  };
  (client as { publish: Publish }).publish = limited;
  return { outstanding: () => outstanding, held: () => queue.length };
}
