import { parse as legacyParse } from 'node:url';

/** Ports mqtt.js connects to when a broker URL names none. */
export const DEFAULT_BROKER_PORTS: Record<string, string> = { 'mqtt:': '1883', 'mqtts:': '8883', 'ws:': '80', 'wss:': '443' };

const bare = (host: string) => host.toLowerCase().replace(/^\[|\]$/g, '');

/**
 * Why the host or port of a broker URL is ambiguous, or null when it is not (or is no URL).
 *
 * mqtt.js (5.x) reads a broker URL with Node's legacy `url.parse`, kedge checks it with the WHATWG
 * `URL` parser, and they do not always agree: `mqtt://evil.example\@broker:1883` is `broker` to
 * WHATWG (`evil.example\` being the user name) and `evil.example` to url.parse. A check made with
 * one parser ("the stored password goes only to the stored broker") then says nothing about where
 * the client connects, so such a URL is refused wherever a broker URL is accepted.
 */
export function brokerUrlAmbiguity(url: string): string | null {
  let w: URL;
  try {
    w = new URL(url);
  } catch {
    return null;
  }
  let l: ReturnType<typeof legacyParse>;
  try {
    l = legacyParse(url);
  } catch {
    return "the MQTT client's URL parser cannot read this URL";
  }
  const port = (p: string | null | undefined, protocol: string) => p || DEFAULT_BROKER_PORTS[protocol] || '';
  const whatwg = `${w.protocol}//${bare(w.hostname)}:${port(w.port, w.protocol)}`;
  const legacy = `${l.protocol ?? ''}//${bare(l.hostname ?? '')}:${port(l.port, l.protocol ?? '')}`;
  if (whatwg === legacy) return null;
  // Not the URL itself: it may carry the stored password the marker stood for (secret-fields.ts).
  return `names two different brokers (${whatwg} or ${legacy}, depending on the parser): write it plainly, e.g. mqtts://broker.example.ru:8883`;
}
