'use strict';

/**
 * kedge write: writes msg.payload to a writable point through the gateway's authenticated API.
 * Output 1: the gateway's confirmation (msg.payload = {device, point, value, ts}).
 * Output 2: the refusal (msg.error = {code, status, message}); also reported with done(err), so
 * Catch nodes see it.
 * @param {any} RED
 */
module.exports = function (RED) {
  /** @this {any} @param {{gateway: string, device?: string, point?: string}} config */
  function KedgeWriteNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = RED.nodes.getNode(config.gateway);

    node.on('input', async (/** @type {any} */ msg, /** @type {Function} */ send, /** @type {Function} */ done) => {
      const fail = (/** @type {string} */ code, /** @type {number} */ status, /** @type {string} */ message) => {
        msg.error = { code, status, message };
        node.status({ fill: 'red', shape: 'dot', text: `${code}: ${message}`.slice(0, 80) });
        send([null, msg]);
        done(new Error(message));
      };
      if (!gateway?.client) return fail('config', 0, gateway?.problem ?? 'kedge write: choose a kedge gateway config node');

      // The node's own device/point win; otherwise msg.device + msg.point, or msg.topic "<device>/<point>".
      const [topicDevice, topicPoint] = typeof msg.topic === 'string' && msg.topic.includes('/') ? msg.topic.split('/', 2) : [];
      const device = config.device || msg.device || topicDevice;
      const point = config.point || msg.point || topicPoint;
      if (!device || !point) {
        return fail('invalid_value', 0, 'kedge write: no point to write: set device and point on the node, or msg.device and msg.point, or msg.topic "<device>/<point>"');
      }
      let value = msg.payload;
      if (typeof value === 'bigint') value = value.toString();
      if (!['number', 'boolean', 'string'].includes(typeof value)) {
        return fail('invalid_value', 0, `kedge write: msg.payload must be a number, boolean or string, got ${value === null ? 'null' : typeof value}`);
      }
      node.status({ fill: 'yellow', shape: 'ring', text: `writing ${device}/${point}` });
      try {
        msg.payload = await gateway.client.writePoint(device, point, value);
        node.status({ fill: 'green', shape: 'dot', text: `${device}/${point} = ${JSON.stringify(msg.payload.value)}` });
        send([msg, null]);
        done();
      } catch (err) {
        const e = /** @type {{code?: string, status?: number, message: string}} */ (err);
        fail(e.code ?? 'error', e.status ?? 0, e.message);
      }
    });
  }

  RED.nodes.registerType('kedge write', KedgeWriteNode);
};
