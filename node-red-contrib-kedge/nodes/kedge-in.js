'use strict';

/** @param {string | undefined} s comma or whitespace separated ids */
const list = (s) =>
  String(s ?? '')
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

/**
 * kedge in: live readings of chosen devices/points from the gateway's /api/live stream, one
 * message per reading (msg.topic = "<device>/<point>", msg.payload = value, msg.unit,
 * msg.quality, msg.ts). Reconnects with backoff; the node status shows the connection.
 * @param {any} RED
 */
module.exports = function (RED) {
  /** @this {any} @param {{gateway: string, devices?: string, points?: string, snapshot?: boolean}} config */
  function KedgeInNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = RED.nodes.getNode(config.gateway);
    if (!gateway?.client) {
      node.status({ fill: 'red', shape: 'ring', text: gateway?.problem ? 'bad gateway config' : 'no gateway configured' });
      node.error(gateway?.problem ?? 'kedge in: choose a kedge gateway config node');
      return;
    }
    let lastProblem = '';
    const stream = gateway.client.live(
      { devices: list(config.devices), points: list(config.points), snapshot: config.snapshot !== false },
      {
        onReading(/** @type {any} */ r) {
          node.send({
            topic: r.point,
            payload: r.value,
            device: r.device,
            point: r.point.slice(r.device.length + 1),
            unit: r.unit,
            quality: r.quality,
            ts: r.ts,
            ...(r.snapshot ? { snapshot: true } : {}),
          });
        },
        onState(/** @type {string} */ state, /** @type {string | undefined} */ detail) {
          if (state === 'connected') {
            lastProblem = '';
            node.status({ fill: 'green', shape: 'dot', text: 'connected' });
          } else if (state === 'connecting') {
            if (!lastProblem) node.status({ fill: 'yellow', shape: 'ring', text: 'connecting' });
          } else {
            node.status({ fill: 'red', shape: 'ring', text: `disconnected: ${detail ?? ''}`.slice(0, 80) });
            // Once per distinct problem: a gateway down for an hour must not flood the debug sidebar.
            if (detail && detail !== lastProblem) node.warn(`kedge in: ${detail}; retrying`);
            lastProblem = detail ?? 'disconnected';
          }
        },
      },
    );
    node.on('close', () => stream.close());
  }

  RED.nodes.registerType('kedge in', KedgeInNode);
};
