// serve-demo.js - a tiny static HTTP server for the badge demo, on loopback only.
// Serves /demo/* and /senderauth-headers.js from src/webmail, and /examples/* from the
// example header blocks (tests/webmail-examples by default). Used by the browser test and
// by `npm run demo`. Nothing else on disk is reachable: file names are checked against a
// strict pattern and resolved inside their folder.
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WEBMAIL_DIR = path.resolve(here, '..');
export const DEFAULT_EXAMPLES_DIR = path.resolve(WEBMAIL_DIR, '../../tests/webmail-examples');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
};
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

// resolve - the file for a URL path, or null.
function resolve(urlPath, examplesDir) {
  const m = /^\/(demo|examples)\/([^/]*)$/.exec(urlPath);
  if (urlPath === '/senderauth-headers.js') return path.join(WEBMAIL_DIR, 'senderauth-headers.js');
  if (!m) return null;
  const name = m[2] === '' && m[1] === 'demo' ? 'index.html' : m[2];
  if (!NAME_RE.test(name) || !(path.extname(name) in TYPES)) return null;
  return path.join(m[1] === 'demo' ? path.join(WEBMAIL_DIR, 'demo') : examplesDir, name);
}

/**
 * startServer - listen on host:port (port 0 = a free one).
 * @returns {Promise<{url: string, port: number, close: () => Promise<void>}>} url is the
 *   demo page's address.
 */
export async function startServer({ host = '127.0.0.1', port = 0, examplesDir = DEFAULT_EXAMPLES_DIR } = {}) {
  const server = http.createServer(async (req, res) => {
    const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    const urlPath = new URL(req.url, 'http://localhost').pathname;
    if (urlPath === '/' || urlPath === '/demo') {
      res.writeHead(302, { ...headers, Location: '/demo/index.html' }).end();
      return;
    }
    const file = resolve(urlPath, examplesDir);
    let body = null;
    if (file) body = await fs.readFile(file).catch(() => null);
    if (body === null) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const addr = server.address();
  return {
    port: addr.port,
    url: `http://${host}:${addr.port}/demo/index.html`,
    close: () => new Promise((ok) => {
      server.closeAllConnections?.();
      server.close(() => ok());
    }),
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT || 8080);
  const examplesDir = process.env.SA_WEBMAIL_EXAMPLES || DEFAULT_EXAMPLES_DIR;
  const s = await startServer({ port, examplesDir });
  console.log(`badge demo: ${s.url} (examples from ${examplesDir}); Ctrl-C stops it`);
}
