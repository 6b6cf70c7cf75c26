'use strict';

/**
 * kedge status: the gateway's uplink state and log depth, on every input message and every
 * `interval` seconds (0 = only on input).
 * msg.payload = {gateway, uplink, connected, logDepth, oldestUnsentAgeMs, evictedTotal, devices, ...}.
 * @param {any} RED
 */
module.exports = function (RED) {
  /** @this {any} @param {{gateway: string, interval?: number|string}} config */
  function KedgeStatusNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = RED.nodes.getNode(config.gateway);
    const intervalS = Number(config.interval ?? 0);

    /** @param {any} msg */
    const poll = async (msg) => {
      if (!gateway?.client) throw new Error(gateway?.problem ?? 'kedge status: choose a kedge gateway config node');
      const s = await gateway.client.status();
      const payload = {
        gateway: s.gateway,
        version: s.version,
        uptimeMs: s.uptimeMs,
        uplink: s.uplink?.state ?? 'none',
        connected: s.uplink?.state === 'online',
        uplinkError: s.uplink?.lastError ?? null,
        // Readings in the log the center has not acknowledged yet.
        logDepth: s.log?.unacked ?? null,
        logRows: s.log?.rows ?? null,
        logBytes: s.log?.usedBytes ?? null,
        oldestUnsentAgeMs: s.oldestUnsentAgeMs ?? null,
        evictedTotal: s.log?.evictedTotal ?? null,
        devices: s.devices,
      };
      node.status({
        fill: payload.connected ? 'green' : 'yellow',
        shape: 'dot',
        text: `uplink ${payload.uplink}, ${payload.logDepth} unsent`,
      });
      return { ...msg, topic: msg.topic ?? 'kedge/status', payload };
    };

    node.on('input', async (/** @type {any} */ msg, /** @type {Function} */ send, /** @type {Function} */ done) => {
      try {
        send(await poll(msg));
        done();
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: /** @type {Error} */ (err).message.slice(0, 80) });
        done(err);
      }
    });

    if (intervalS > 0) {
      const tick = () =>
        poll({}).then(
          (msg) => node.send(msg),
          (err) => {
            node.status({ fill: 'red', shape: 'ring', text: err.message.slice(0, 80) });
            node.warn(`kedge status: ${err.message}`);
          },
        );
      const timer = setInterval(tick, intervalS * 1000);
      node.on('close', () => clearInterval(timer));
    }
  }

  RED.nodes.registerType('kedge status', KedgeStatusNode);
};
