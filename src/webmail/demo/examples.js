// examples.js - reads the index of example header blocks (tests/webmail-examples/index.json,
// written by the daemon's example test) into one shape, for the demo page and the tests.
// Owns: that normalization. Not: fetching or reading files (the caller does that).

/**
 * normalizeIndex - the index as a list of examples.
 * Accepts a list of entries, {examples: [...]}, or an object keyed by example name. An
 * entry names its file ("file") and may give "name", "title"/"description",
 * "authserv_id"/"authservId" and the expected "level" (null = no badge), "warning",
 * "trustmark".
 * @returns {{name: string, file: string, title: string, authservId: string|null,
 *   level: string|null, warning: boolean, trustmark: boolean}[]} entries without a
 *   usable file name are left out.
 */
export function normalizeIndex(json) {
  let list = [];
  if (Array.isArray(json)) list = json;
  else if (json && Array.isArray(json.examples)) list = json.examples;
  else if (json && typeof json === 'object') {
    list = Object.entries(json)
      .filter(([, v]) => v && typeof v === 'object')
      .map(([k, v]) => ({ name: k, ...v }));
  }
  const defaultId = json && !Array.isArray(json) ? json.authserv_id || json.authservId || null : null;
  const out = [];
  for (const e of list) {
    if (!e || typeof e !== 'object') continue;
    const file = typeof e.file === 'string' ? e.file : typeof e.name === 'string' ? `${e.name}.txt` : null;
    if (!file || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file)) continue;
    const name = typeof e.name === 'string' ? e.name : file.replace(/\.txt$/, '');
    const expect = e.expect && typeof e.expect === 'object' ? e.expect : e;
    out.push({
      name,
      file,
      title: String(e.title || e.description || name),
      authservId: e.authserv_id || e.authservId || defaultId,
      level: expect.level === undefined ? null : expect.level,
      warning: Boolean(expect.warning),
      trustmark: Boolean(expect.trustmark),
    });
  }
  return out;
}
