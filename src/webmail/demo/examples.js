// examples.js - reads the index of example header blocks (tests/webmail-examples/index.json,
// written by the daemon's example test) into one shape, for the demo page and the tests.
// Owns: that normalization. Not: fetching or reading files (the caller does that).

/**
 * normalizeIndex - the index as a list of examples.
 * The index (see tests/webmail-examples/index.json) is {authserv_id, headers: {trust,
 * warning, warning_value, trustmark}, examples: [{name, file, title, description,
 * expect: {level, warning, trustmark, results}, from, trustmark_basis}]}; a bare list of
 * entries is accepted too. Entries without a safe file name are left out.
 * @returns {{name: string, file: string, title: string, description: string,
 *   authservId: string|null, options: object, level: string|null, warning: boolean,
 *   trustmark: boolean, results: object|null, from: string|null|undefined,
 *   trustmarkBasis: string|null|undefined}[]} options are parseHeaders() options (header
 *   names); from and trustmarkBasis are undefined when the index does not say.
 */
export function normalizeIndex(json) {
  const top = json && typeof json === 'object' && !Array.isArray(json) ? json : {};
  const list = Array.isArray(json) ? json : Array.isArray(top.examples) ? top.examples : [];
  const h = top.headers && typeof top.headers === 'object' ? top.headers : {};
  const options = {};
  if (typeof h.trust === 'string') options.trustHeader = h.trust;
  if (typeof h.warning === 'string') options.warningHeader = h.warning;
  if (typeof h.warning_value === 'string') options.warningValue = h.warning_value;
  if (typeof h.trustmark === 'string') options.trustmarkHeader = h.trustmark;
  const out = [];
  for (const e of list) {
    if (!e || typeof e !== 'object') continue;
    const file = typeof e.file === 'string' ? e.file : null;
    if (!file || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file)) continue;
    const name = typeof e.name === 'string' ? e.name : file.replace(/\.txt$/, '');
    const expect = e.expect && typeof e.expect === 'object' ? e.expect : e;
    out.push({
      name,
      file,
      title: String(e.title || name),
      description: String(e.description || ''),
      authservId: e.authserv_id || e.authservId || top.authserv_id || null,
      options,
      level: expect.level === undefined ? null : expect.level,
      warning: Boolean(expect.warning),
      trustmark: Boolean(expect.trustmark),
      results: expect.results && typeof expect.results === 'object' ? expect.results : null,
      from: e.from,
      trustmarkBasis: e.trustmark_basis,
    });
  }
  return out;
}
