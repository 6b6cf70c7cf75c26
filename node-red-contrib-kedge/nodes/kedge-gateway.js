'use strict';
const { KedgeClient } = require('./lib/client.js');

/**
 * Config node: where the gateway is and how to authenticate. The token and the password are
 * Node-RED credentials (kept in flows_cred.json, encrypted, never in the flow JSON or an export).
 * @param {any} RED
 */
module.exports = function (RED) {
  /** @this {any} @param {{url: string, insecure?: boolean, timeout?: number|string}} config */
  function KedgeGatewayNode(config) {
    RED.nodes.createNode(this, config);
    const creds = this.credentials ?? {};
    this.url = config.url;
    /** @type {KedgeClient | null} */
    this.client = null;
    /** Why no client could be built (bad URL), shown by every node using this config. */
    this.problem = null;
    try {
      this.client = new KedgeClient({
        url: config.url,
        token: creds.token || undefined,
        user: creds.user || undefined,
        password: creds.password || undefined,
        insecure: config.insecure === true,
        timeoutMs: Number(config.timeout) > 0 ? Number(config.timeout) * 1000 : 15_000,
      });
    } catch (err) {
      this.problem = /** @type {Error} */ (err).message;
      this.error(this.problem);
    }
  }

  RED.nodes.registerType('kedge-gateway', KedgeGatewayNode, {
    credentials: {
      token: { type: 'password' },
      user: { type: 'text' },
      password: { type: 'password' },
    },
  });
};
