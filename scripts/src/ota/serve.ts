/**
 * The temporary HTTP server `kedge-ota push` serves a bundle from (Range support so the
 * gateway can resume; the bundle is signed, so plain HTTP carries no trust).
 */
export { serveFile, type FileServer, type ServeOptions } from '@kedge/testkit/file-server.ts';
