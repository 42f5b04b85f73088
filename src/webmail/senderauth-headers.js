// senderauth-headers.js - reference parser for the headers senderauthd writes, for
// webmail developers: Authentication-Results (RFC 8601), the X-Senderauth-* summary
// headers (trust level, warning, trust mark) and, for level bimi, the BIMI-Indicator logo.
// Owns: unfolding a raw header block, parsing Authentication-Results, deciding which
// headers are trusted, and the result object. Not: labels, colours or any DOM work (the
// demo page does that), nor any network or DNS access.
// Safety: every function here takes untrusted input and never throws on it; anything
// malformed is ignored. Work is linear in the input and the input is capped.
// No dependencies; runs in Node.js (>= 18) and in browsers as an ES module.

/** The trust ladder, lowest first (docs/webmail-headers.md, "The trust levels"). */
export const LEVELS = Object.freeze(['fail', 'none', 'dmarc-monitor', 'dmarc-enforced', 'listed', 'bimi']);

/** The mark certificate kinds of level bimi (docs/bimi.md): a VMC (registered or
 * government mark) earns the check mark next to the logo, a CMC (prior-use mark) the logo
 * alone. */
export const BIMI_AUTHORITIES = Object.freeze(['vmc', 'cmc']);

/** The bases of a trust mark (docs/webmail-headers.md, "The trust mark"). */
export const TRUSTMARK_BASES = Object.freeze(['dmarc', 'author-signature']);

/** Defaults for the options of parseHeaders(): senderauthd's default header names and
 * warning value. Pass the operator's `headers.*` settings when they differ. */
export const DEFAULTS = Object.freeze({
  trustHeader: 'X-Senderauth-Trust',
  warningHeader: 'X-Senderauth-Result',
  warningValue: 'fail',
  trustmarkHeader: 'X-Senderauth-Trustmark',
  indicatorHeader: 'BIMI-Indicator',
  maxLength: 1024 * 1024,
});

const AR_NAME = 'authentication-results';
const MAX_RESINFOS = 1000;
const MAX_FIELD_NAME = 998; // RFC 5322 2.1.1 line length
const WSP_RE = /^[ \t]/;
const FTEXT_RE = /^[\x21-\x39\x3b-\x7e]+$/; // RFC 5322 3.6.8 field-name
const KEYWORD_RE = /[A-Za-z0-9_-]/; // RFC 8601 Keyword (ldh-str), lenient on '_'
const DIGIT_RE = /[0-9]/;
// RFC 2045 token: printable ASCII except SPACE and tspecials.
const TSPECIALS = '()<>@,;:\\"/[]?=';
// pvalue without quotes: printable ASCII except space, comment, quote, ';' and '\'.
const PVALUE_STOP = ' \t\r\n();"\\';
// The contract's domain: LDH labels (A-labels for IDNs), compared case-insensitively.
const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const PARAM_NAME_RE = /^[a-z0-9-]{1,32}$/i;
const PARAM_VALUE_RE = /^[\x21-\x3a\x3c-\x7e]{1,255}$/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
const MAX_SVG = 32768; // bimi.max_svg_bytes at most (draft: SVG Tiny PS logos up to 32 KB)

class Malformed extends Error {}

/**
 * unfoldHeaders - split a raw header block into fields, unfolded (RFC 5322 2.2.3).
 * Accepts CRLF, LF or CR line ends. Stops at the first empty line (the body). Lines that
 * are not fields (no colon, bad name, a continuation with nothing to continue) are
 * dropped together with their continuation lines.
 * @param {string} raw
 * @returns {{name: string, value: string}[]} name as written (trailing WSP removed);
 *   value is everything after the colon, unfolded, leading whitespace kept.
 */
export function unfoldHeaders(raw) {
  const fields = [];
  if (typeof raw !== 'string') return fields;
  let cur = null;
  let pos = 0;
  const n = raw.length;
  while (pos < n) {
    let end = pos;
    while (end < n && raw[end] !== '\r' && raw[end] !== '\n') end++;
    const line = raw.slice(pos, end);
    if (end < n && raw[end] === '\r' && raw[end + 1] === '\n') end += 2;
    else if (end < n) end += 1;
    pos = end;
    if (line.length === 0) break; // end of the header block
    if (WSP_RE.test(line)) {
      if (cur) cur.value += line;
      continue;
    }
    cur = null;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).replace(/[ \t]+$/, ''); // obs-optional WSP
    if (name.length === 0 || name.length > MAX_FIELD_NAME || !FTEXT_RE.test(name)) continue;
    cur = { name, value: line.slice(colon + 1) };
    fields.push(cur);
  }
  return fields;
}

// Parser - a cursor over one unfolded field value.
class Parser {
  constructor(s) {
    this.s = s;
    this.i = 0;
    this.comments = null; // when an array, cfws() appends the comments it skips
  }

  atEnd() {
    return this.i >= this.s.length;
  }

  peek() {
    return this.s[this.i];
  }

  // cfws - skip folding white space and comments (nested, with quoted-pairs).
  cfws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
        this.i++;
      } else if (c === '(') {
        const text = this.comment();
        if (this.comments) this.comments.push(text);
      } else {
        break;
      }
    }
  }

  // comment - one comment starting at '(', nested comments included; returns its text.
  comment() {
    const s = this.s;
    const start = this.i;
    let depth = 0;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === '\\') {
        if (this.i + 1 >= s.length) break;
        this.i += 2;
        continue;
      }
      this.i++;
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) {
        return s.slice(start + 1, this.i - 1).replace(/\\(.)/g, '$1').trim();
      }
    }
    throw new Malformed('unterminated comment');
  }

  // quoted - an RFC 5322 quoted-string at '"'; returns the unescaped content.
  quoted() {
    const s = this.s;
    let out = '';
    this.i++;
    while (this.i < s.length) {
      const c = s[this.i++];
      if (c === '\\') {
        if (this.i >= s.length) break;
        out += s[this.i++];
      } else if (c === '"') {
        return out;
      } else {
        out += c;
      }
    }
    throw new Malformed('unterminated quoted-string');
  }

  // run - the longest run of characters accepted by ok(c); '' when none.
  run(ok) {
    const s = this.s;
    const start = this.i;
    while (this.i < s.length && ok(s[this.i])) this.i++;
    return s.slice(start, this.i);
  }

  keyword() {
    return this.run((c) => KEYWORD_RE.test(c));
  }

  // value - RFC 2045 token or quoted-string; null when neither.
  value() {
    if (this.peek() === '"') return this.quoted();
    const t = this.run((c) => c > ' ' && c < '\x7f' && !TSPECIALS.includes(c));
    return t === '' ? null : t;
  }

  // pvalue - RFC 8601 pvalue: value, or [[local-part] "@"] domain-name.
  pvalue() {
    const quoted = this.peek() === '"';
    const v = quoted ? this.quoted() : '';
    const rest = this.run((c) => c > ' ' && c < '\x7f' && !PVALUE_STOP.includes(c));
    if (!quoted && rest === '') return null;
    return v + rest;
  }

  expect(c) {
    if (this.peek() !== c) throw new Malformed(`expected ${c}`);
    this.i++;
  }
}

/**
 * parseAuthservId - the authserv-id (and version) at the start of an
 * Authentication-Results value, without parsing the rest.
 * @param {string} value unfolded field value
 * @returns {{authservId: string, version: string|null, parser: Parser}|null}
 */
function parseAuthservId(value) {
  const p = new Parser(value);
  try {
    p.cfws();
    const id = p.value();
    if (id === null) return null;
    let version = null;
    if (p.peek() === '/') {
      // "id/version", written by some MTAs; the version must be digits.
      p.i++;
      version = p.run((c) => DIGIT_RE.test(c));
      if (version === '') return null;
    }
    p.cfws();
    if (version === null && DIGIT_RE.test(p.peek() || '')) {
      version = p.run((c) => DIGIT_RE.test(c)); // RFC 8601 authres-version
      p.cfws();
    }
    return { authservId: id, version, parser: p };
  } catch (e) {
    if (e instanceof Malformed) return null;
    throw e;
  }
}

/**
 * parseAuthResults - parse one Authentication-Results field value (RFC 8601 2.2).
 * Method, result, ptype and property names are returned in lower case; values as written.
 * @param {string} value the unfolded field value (after the colon)
 * @returns {{authservId: string, version: string|null, resinfos: object[]}|null}
 *   null when the value is malformed (the whole field is then to be ignored). Each resinfo
 *   is {method, result, reason, comment, properties}: reason is the reason= value or null,
 *   comment the first comment after the result or null, properties maps "ptype.property"
 *   to its value (first occurrence wins).
 */
export function parseAuthResults(value) {
  if (typeof value !== 'string') return null;
  const head = parseAuthservId(value);
  if (!head) return null;
  const p = head.parser;
  const resinfos = [];
  try {
    if (p.atEnd()) throw new Malformed('no result');
    while (!p.atEnd()) {
      p.expect(';');
      p.cfws();
      if (p.atEnd()) break; // a trailing ';' is tolerated
      const method = p.keyword().toLowerCase();
      if (method === '') throw new Malformed('method');
      p.cfws();
      if (method === 'none' && resinfos.length === 0 && (p.atEnd() || p.peek() === ';')) {
        // RFC 8601 no-result: "; none", and nothing after it.
        if (!p.atEnd()) {
          p.expect(';');
          p.cfws();
          if (!p.atEnd()) throw new Malformed('data after none');
        }
        return { authservId: head.authservId, version: head.version, resinfos };
      }
      if (p.peek() === '/') {
        p.i++;
        p.cfws();
        if (p.run((c) => DIGIT_RE.test(c)) === '') throw new Malformed('method version');
        p.cfws();
      }
      p.expect('=');
      p.cfws();
      const result = p.keyword().toLowerCase();
      if (result === '') throw new Malformed('result');
      p.comments = [];
      p.cfws();
      const ri = { method, result, reason: null, comment: p.comments[0] ?? null, properties: {} };
      p.comments = null;
      // reasonspec: "reason" [CFWS] "=" [CFWS] value
      const save = p.i;
      if (p.keyword().toLowerCase() === 'reason') {
        p.cfws();
        if (p.peek() === '=') {
          p.i++;
          p.cfws();
          ri.reason = p.value();
          if (ri.reason === null) throw new Malformed('reason');
          p.cfws();
        } else {
          p.i = save;
        }
      } else {
        p.i = save;
      }
      // propspec: ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
      while (!p.atEnd() && p.peek() !== ';') {
        const ptype = p.keyword().toLowerCase();
        if (ptype === '') throw new Malformed('ptype');
        p.cfws();
        p.expect('.');
        p.cfws();
        const property = p.keyword().toLowerCase();
        if (property === '') throw new Malformed('property');
        p.cfws();
        p.expect('=');
        p.cfws();
        const v = p.pvalue();
        if (v === null) throw new Malformed('pvalue');
        p.cfws();
        const key = `${ptype}.${property}`; // always contains '.', so never "__proto__"
        if (!Object.prototype.hasOwnProperty.call(ri.properties, key)) ri.properties[key] = v;
      }
      if (resinfos.length < MAX_RESINFOS) resinfos.push(ri);
    }
  } catch (e) {
    if (e instanceof Malformed) return null;
    throw e;
  }
  return { authservId: head.authservId, version: head.version, resinfos };
}

/**
 * parseParams - "name=value" parameters separated by ";" (the X-Senderauth-* values).
 * Names are returned in lower case. Whitespace around the separators is tolerated.
 * @returns {Map<string,string>|null} null when malformed or a name appears twice.
 */
function parseParams(value) {
  if (typeof value !== 'string') return null;
  const params = new Map();
  for (const part of value.split(';')) {
    const t = part.trim();
    const eq = t.indexOf('=');
    if (eq <= 0) return null;
    const k = t.slice(0, eq).toLowerCase();
    const v = t.slice(eq + 1);
    if (!PARAM_NAME_RE.test(k) || !PARAM_VALUE_RE.test(v) || params.has(k)) return null;
    params.set(k, v);
  }
  return params;
}

/**
 * parseTrustValue - the value of the trust field:
 * "level=LEVEL[; from=DOMAIN][; authority=vmc|cmc]*(; ext)".
 * @returns {{level: string, from: string|null, authority?: string}|null} the level and
 *   the domain in lower case; for level bimi also authority ("vmc" or "cmc", required
 *   there). null when malformed, when the level is not on the ladder (a reader ignores a
 *   trust field with a level it does not know) or when level bimi lacks its authority.
 */
export function parseTrustValue(value) {
  const params = parseParams(value);
  if (!params || !params.has('level')) return null;
  const level = params.get('level').toLowerCase();
  if (!LEVELS.includes(level)) return null;
  let from = null;
  if (params.has('from')) {
    from = params.get('from');
    if (!DOMAIN_RE.test(from)) return null;
    from = from.toLowerCase();
  }
  if (level !== 'bimi') return { level, from };
  const authority = (params.get('authority') || '').toLowerCase();
  return BIMI_AUTHORITIES.includes(authority) ? { level, from, authority } : null;
}

/**
 * parseTrustmarkValue - the value of the trust-mark field:
 * "from=DOMAIN; basis=dmarc|author-signature*(; ext)".
 * @returns {{from: string, basis: string}|null} both in lower case; null when malformed.
 */
export function parseTrustmarkValue(value) {
  const params = parseParams(value);
  if (!params || !params.has('from') || !params.has('basis')) return null;
  const from = params.get('from');
  const basis = params.get('basis').toLowerCase();
  if (!DOMAIN_RE.test(from) || !TRUSTMARK_BASES.includes(basis)) return null;
  return { from: from.toLowerCase(), basis };
}

function sameName(a, b) {
  return a.toLowerCase() === b.toLowerCase();
}

// noBadge - the answer when the headers cannot be trusted.
function noBadge(out, note) {
  out.level = null;
  out.from = null;
  out.warning = false;
  out.trustmark = false;
  out.trustmarkBasis = null;
  out.bimi = null;
  out.notes.push(note);
  return out;
}

/**
 * decodeIndicator - the SVG text of a BIMI-Indicator value (base64, folded), or null when
 * it is not base64, decodes to more than MAX_SVG bytes or does not start like XML/SVG.
 */
export function decodeIndicator(value) {
  if (typeof value !== 'string') return null;
  const b64 = value.replace(/[ \t\r\n]+/g, '');
  if (b64.length === 0 || b64.length % 4 !== 0 || b64.length > (MAX_SVG / 3) * 4 + 4 || !BASE64_RE.test(b64)) return null;
  let bin;
  try {
    bin = atob(b64);
  } catch {
    return null;
  }
  if (bin.length > MAX_SVG) return null;
  let svg;
  try {
    svg = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
  return /^\s*</.test(svg) && /<svg[\s>]/.test(svg) ? svg : null;
}

// readBimi - the bimi answer for a trusted field with level bimi: the A-R must say
// bimi=pass with the same authority; the logo comes from the one BIMI-Indicator field.
function readBimi(out, ar, fields, opts, authority) {
  const ri = ar.resinfos.find((r) => r.method === 'bimi');
  if (!ri || ri.result !== 'pass') return `level bimi without bimi=pass in Authentication-Results`;
  const auth = (ri.properties['policy.authority'] || '').toLowerCase();
  if (auth !== authority) return `level bimi authority ${authority} but Authentication-Results says ${auth || 'none'}`;
  const ind = fields.filter((f) => sameName(f.name, opts.indicatorHeader));
  let logo = null;
  if (ind.length === 1) logo = decodeIndicator(ind[0].value);
  if (logo === null) out.notes.push(`${ind.length} ${opts.indicatorHeader} fields or an unusable one: no logo`);
  out.bimi = {
    authority,
    checkMark: authority === 'vmc',
    domain: ri.properties['header.d'] || null,
    selector: ri.properties['header.selector'] || null,
    logo,
    logoDataUri: logo === null ? null : `data:image/svg+xml;base64,${ind[0].value.replace(/[ \t\r\n]+/g, '')}`,
  };
  return null;
}

/**
 * parseHeaders - read what senderauthd decided about one message.
 * @param {string} rawHeaderBlock the message's header as stored in the mailbox (a whole
 *   message is fine: reading stops at the empty line before the body), folded or not.
 * @param {object} options
 * @param {string} options.authservId the authserv-id the operator's own MTA writes
 *   (its `authserv_id`; required); compared ASCII case-insensitively.
 * @param {string} [options.trustHeader] [options.warningHeader] [options.warningValue]
 *   [options.trustmarkHeader] the operator's `headers.*` settings when they are not
 *   senderauthd's defaults (see DEFAULTS); [options.indicatorHeader] BIMI-Indicator.
 * @param {number} [options.maxLength] a longer input is not read at all (no badge).
 * @returns {{level: string|null, warning: boolean, trustmark: boolean,
 *   results: {spf: string|null, dkim: string[], dmarc: string|null, arc: string|null},
 *   from: string|null, trustmarkBasis: string|null, trusted: boolean,
 *   bimi: {authority: string, checkMark: boolean, domain: string|null,
 *   selector: string|null, logo: string|null, logoDataUri: string|null}|null,
 *   resinfos: object[], notes: string[]}}
 *   As docs/webmail-headers.md "What a reader returns" describes: level null means show
 *   no badge. results are lower-case result names from the trusted
 *   Authentication-Results field. Additions: from is the trust field's from= domain;
 *   trustmarkBasis "dmarc" or "author-signature"; trusted is true when exactly one
 *   well-formed Authentication-Results field with the trusted authserv-id is present;
 *   bimi is set only for level bimi (which needs bimi=pass with the same
 *   policy.authority in that field): checkMark true for a VMC, false for a CMC, logo the
 *   SVG text of the one BIMI-Indicator field (null when missing or unusable) and
 *   logoDataUri for an <img> (never insert the SVG into the page as markup);
 *   resinfos are that field's results in full (see parseAuthResults); notes say in
 *   English why something was ignored (for debugging, not for display).
 * @throws {TypeError} only when options.authservId is missing (a programming error);
 *   never because of the header block.
 */
export function parseHeaders(rawHeaderBlock, options) {
  const opts = { ...DEFAULTS, ...(options || {}) };
  if (typeof opts.authservId !== 'string' || opts.authservId.trim() === '') {
    throw new TypeError('parseHeaders: options.authservId (the trusted authserv-id) is required');
  }
  const out = {
    level: null,
    warning: false,
    trustmark: false,
    results: { spf: null, dkim: [], dmarc: null, arc: null },
    from: null,
    trustmarkBasis: null,
    trusted: false,
    bimi: null,
    resinfos: [],
    notes: [],
  };
  if (typeof rawHeaderBlock !== 'string') return noBadge(out, 'input is not a string');
  if (rawHeaderBlock.length > opts.maxLength) {
    return noBadge(out, `input longer than ${opts.maxLength} characters: not read`);
  }
  const fields = unfoldHeaders(rawHeaderBlock);
  const wantId = opts.authservId.trim().toLowerCase();

  // Rule 1 and 2: exactly one A-R field with our authserv-id. Every field naming our id
  // counts, even a malformed one: our MTA deletes all incoming ones, so a second copy
  // means the block was changed after delivery.
  const ours = [];
  for (const f of fields) {
    if (!sameName(f.name, AR_NAME)) continue;
    const head = parseAuthservId(f.value);
    if (head && head.authservId.toLowerCase() === wantId) ours.push(f);
  }
  if (ours.length === 0) return noBadge(out, `no Authentication-Results from ${opts.authservId}`);
  if (ours.length > 1) {
    return noBadge(out, `${ours.length} Authentication-Results from ${opts.authservId}: none trusted`);
  }
  const ar = parseAuthResults(ours[0].value);
  if (!ar) return noBadge(out, `Authentication-Results from ${opts.authservId} is malformed`);
  out.trusted = true;
  out.resinfos = ar.resinfos;
  const r = out.results;
  let spfMailfrom = null;
  for (const ri of ar.resinfos) {
    if (ri.method === 'spf') {
      if (r.spf === null) r.spf = ri.result;
      if (spfMailfrom === null && 'smtp.mailfrom' in ri.properties) spfMailfrom = ri.result;
    } else if (ri.method === 'dkim') {
      r.dkim.push(ri.result);
    } else if (ri.method === 'dmarc' && r.dmarc === null) {
      r.dmarc = ri.result;
    } else if (ri.method === 'arc' && r.arc === null) {
      r.arc = ri.result;
    }
  }
  if (spfMailfrom !== null) r.spf = spfMailfrom;

  // Rule 3: each of our fields at most once and well-formed, or no badge at all.
  const get = (name) => fields.filter((f) => sameName(f.name, name)).map((f) => f.value.trim());
  const trust = get(opts.trustHeader);
  const warn = get(opts.warningHeader);
  const mark = get(opts.trustmarkHeader);
  for (const [name, copies] of [[opts.trustHeader, trust], [opts.warningHeader, warn], [opts.trustmarkHeader, mark]]) {
    if (copies.length > 1) return noBadge(out, `${name} appears ${copies.length} times`);
  }
  if (trust.length === 1) {
    const t = parseTrustValue(trust[0]);
    if (!t) return noBadge(out, `${opts.trustHeader} is malformed or has an unknown level`);
    out.level = t.level;
    out.from = t.from;
    if (t.level === 'bimi') {
      const why = readBimi(out, ar, fields, opts, t.authority);
      if (why) return noBadge(out, why);
    }
  }
  if (warn.length === 1) {
    if (!sameName(warn[0], opts.warningValue)) return noBadge(out, `${opts.warningHeader} is not ${opts.warningValue}`);
    out.warning = true;
  }
  if (mark.length === 1) {
    const m = parseTrustmarkValue(mark[0]);
    if (!m) return noBadge(out, `${opts.trustmarkHeader} is malformed`);
    // The contract ties them: the trust mark comes with level "listed" (or "bimi" above
    // it) and the same domain.
    if (levelRank(out.level) < levelRank('listed') || out.from !== m.from) {
      return noBadge(out, `${opts.trustmarkHeader} does not match ${opts.trustHeader}`);
    }
    out.trustmark = true;
    out.trustmarkBasis = m.basis;
  } else if (out.level === 'listed') {
    return noBadge(out, `level listed without ${opts.trustmarkHeader}`);
  }
  return out;
}

/** levelRank - position of a level on the ladder (0 = fail, 5 = bimi); -1 for null or
 * anything not on the ladder. */
export function levelRank(level) {
  return LEVELS.indexOf(level);
}
