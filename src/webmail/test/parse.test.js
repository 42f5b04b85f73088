// parse.test.js - table tests of the reference parser: the contract's rules
// (docs/webmail-headers.md), RFC 8601 syntax, and hostile header blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  parseHeaders,
  parseAuthResults,
  parseTrustValue,
  parseTrustmarkValue,
  unfoldHeaders,
  levelRank,
  decodeIndicator,
  LEVELS,
} from '../senderauth-headers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const srcRoot = process.env.SA_SRC || path.resolve(here, '../../..');
const ID = 'mx.test.example';

// Header blocks built from the grammar of docs/authentication-results.md and
// docs/webmail-headers.md (CRLF, folded with CRLF HTAB as the daemon writes them).
const AR_PASS_ENFORCED =
  'Authentication-Results: mx.test.example;\r\n' +
  '\tspf=pass smtp.mailfrom=bank.example;\r\n' +
  '\tdkim=pass header.d=bank.example header.s=s1 header.a=rsa-sha256\r\n' +
  '\theader.b=AbCdEf12;\r\n' +
  '\tdmarc=pass (p=reject dis=none) header.from=bank.example\r\n' +
  '\tpolicy.dmarc=reject\r\n';
const AR_FAIL =
  'Authentication-Results: mx.test.example;\r\n' +
  '\tspf=fail smtp.mailfrom=evil.example;\r\n' +
  '\tdkim=none;\r\n' +
  '\tdmarc=fail (p=none dis=none) header.from=bank.example\r\n' +
  '\tpolicy.dmarc=none\r\n';
const AR_FOREIGN_PASS =
  'Authentication-Results: mx.evil.example;\r\n' +
  '\tspf=pass smtp.mailfrom=bank.example; dkim=pass header.d=bank.example;\r\n' +
  '\tdmarc=pass header.from=bank.example\r\n';
const TRUST_LISTED = 'X-Senderauth-Trust: level=listed; from=bank.example\r\n';
const MARK = 'X-Senderauth-Trustmark: from=bank.example; basis=dmarc\r\n';
const WARN = 'X-Senderauth-Result: fail\r\n';
const COMMON = 'Received: from mail.evil.example by mx.test.example; Mon, 1 Jan 2024 00:00:00 +0000\r\n' +
  'From: Bank <info@bank.example>\r\nSubject: hello\r\n';
const BODY = '\r\nbody line\r\n';

const NO_BADGE = { level: null, warning: false, trustmark: false };

// BIMI (docs/bimi.md): the A-R with bimi=pass, the trust field with level=bimi and the
// BIMI-Indicator as senderauthd folds it (76 base64 characters per line).
const arBimi = (auth, result = 'pass') =>
  'Authentication-Results: mx.test.example;\r\n\tspf=pass smtp.mailfrom=bank.example;\r\n' +
  '\tdmarc=pass (p=reject dis=none) header.from=bank.example policy.dmarc=reject;\r\n' +
  `\tbimi=${result} header.d=bank.example header.selector=default\r\n\tpolicy.authority=${auth}\r\n`;
const LOGO = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 10 10"><title>Bank</title><circle cx="5" cy="5" r="4"/></svg>\n';
const LOGO_B64 = Buffer.from(LOGO).toString('base64');
const IND = 'BIMI-Indicator: ' + LOGO_B64.match(/.{1,76}/g).join('\r\n\t') + '\r\n';
const trustBimi = (auth) => `X-Senderauth-Trust: level=bimi; from=bank.example; authority=${auth}\r\n`;

// Each row: name, raw header block, options (authservId defaults to ID), want (the
// fields of the answer that must match), and optionally results.
const cases = [
  // --- the contract's normal cases ---
  { name: 'listed sender with trust mark', raw: MARK + TRUST_LISTED + AR_PASS_ENFORCED + COMMON + BODY,
    want: { level: 'listed', warning: false, trustmark: true, from: 'bank.example', trustmarkBasis: 'dmarc' },
    results: { spf: 'pass', dkim: ['pass'], dmarc: 'pass', arc: null } },
  { name: 'dmarc enforced', raw: 'X-Senderauth-Trust: level=dmarc-enforced; from=bank.example\r\n' + AR_PASS_ENFORCED + COMMON,
    want: { level: 'dmarc-enforced', warning: false, trustmark: false, from: 'bank.example' } },
  { name: 'spoofed listed domain warns', raw: WARN + 'X-Senderauth-Trust: level=fail; from=bank.example\r\n' + AR_FAIL + COMMON,
    want: { level: 'fail', warning: true, trustmark: false },
    results: { spf: 'fail', dkim: ['none'], dmarc: 'fail', arc: null } },
  { name: 'trust field without from= (From anomaly)', raw: 'X-Senderauth-Trust: level=fail\r\n' + AR_FAIL,
    want: { level: 'fail', from: null } },
  { name: 'author-signature trust mark', raw: 'X-Senderauth-Trustmark: from=bank.example; basis=author-signature\r\n' +
      TRUST_LISTED + AR_PASS_ENFORCED, want: { level: 'listed', trustmark: true, trustmarkBasis: 'author-signature' } },
  { name: 'bimi level with trust mark', raw: trustBimi('vmc') + MARK + IND + arBimi('vmc'),
    want: { level: 'bimi', trustmark: true } },
  { name: 'bimi vmc: logo with check mark', raw: IND + trustBimi('vmc') + arBimi('vmc') + COMMON,
    want: { level: 'bimi', from: 'bank.example', trustmark: false,
      bimi: { authority: 'vmc', checkMark: true, domain: 'bank.example', selector: 'default', logo: LOGO,
        logoDataUri: `data:image/svg+xml;base64,${LOGO_B64}` } } },
  { name: 'bimi cmc: logo without check mark', raw: IND + trustBimi('cmc') + arBimi('cmc'),
    want: { level: 'bimi', bimi: { authority: 'cmc', checkMark: false, domain: 'bank.example', selector: 'default', logo: LOGO,
      logoDataUri: `data:image/svg+xml;base64,${LOGO_B64}` } } },
  { name: 'bimi without indicator: level, no logo', raw: trustBimi('vmc') + arBimi('vmc'),
    want: { level: 'bimi', bimi: { authority: 'vmc', checkMark: true, domain: 'bank.example', selector: 'default', logo: null, logoDataUri: null } } },
  { name: 'bimi with two indicators: no logo', raw: IND + IND + trustBimi('vmc') + arBimi('vmc'),
    want: { level: 'bimi', trusted: true } },
  { name: 'bimi with an indicator that is not base64 SVG', raw: 'BIMI-Indicator: PHNjcmlwdD4=\r\n' + trustBimi('vmc') + arBimi('vmc'),
    want: { level: 'bimi' } },
  { name: 'level bimi without authority', raw: 'X-Senderauth-Trust: level=bimi; from=bank.example\r\n' + IND + arBimi('vmc'),
    want: { ...NO_BADGE, trusted: true, bimi: null } },
  { name: 'level bimi without bimi=pass in the A-R', raw: trustBimi('vmc') + IND + AR_PASS_ENFORCED,
    want: { ...NO_BADGE, trusted: true, bimi: null } },
  { name: 'level bimi with bimi=fail in the A-R', raw: trustBimi('vmc') + IND + arBimi('vmc', 'fail'),
    want: { ...NO_BADGE, bimi: null } },
  { name: 'level bimi claiming vmc where the A-R says cmc', raw: trustBimi('vmc') + IND + arBimi('cmc'),
    want: { ...NO_BADGE, bimi: null } },
  { name: 'indicator without level bimi is ignored', raw: IND + 'X-Senderauth-Trust: level=dmarc-enforced; from=bank.example\r\n' + arBimi('vmc'),
    want: { level: 'dmarc-enforced', bimi: null } },
  { name: 'forged bimi fields without trusted A-R', raw: IND + trustBimi('vmc') + COMMON, want: { ...NO_BADGE, trusted: false, bimi: null } },
  { name: 'extension parameters are ignored', raw: 'X-Senderauth-Trust: level=none; from=a.example; future-x=1/2\r\n' + AR_FAIL,
    want: { level: 'none', from: 'a.example' } },
  { name: 'fields after the A-R field and in any order', raw: COMMON + AR_PASS_ENFORCED + 'Subject: x\r\n' + TRUST_LISTED + 'X-Other: 1\r\n' + MARK,
    want: { level: 'listed', trustmark: true } },
  { name: 'no-result A-R (trusted client): no badge but trusted', raw: 'Authentication-Results: mx.test.example; none\r\n' + COMMON,
    want: { ...NO_BADGE, trusted: true }, results: { spf: null, dkim: [], dmarc: null, arc: null } },
  { name: 'configured header names and warning value',
    raw: 'X-Mark: from=bank.example; basis=dmarc\r\nX-Level: level=listed; from=bank.example\r\nX-Warn: SPOOFED\r\n' + AR_PASS_ENFORCED,
    opts: { trustHeader: 'X-Level', warningHeader: 'x-warn', warningValue: 'spoofed', trustmarkHeader: 'X-Mark' },
    want: { level: 'listed', warning: true, trustmark: true } },
  { name: 'default names are not read when others are configured', raw: TRUST_LISTED + MARK + WARN + AR_PASS_ENFORCED,
    opts: { trustHeader: 'X-Level', warningHeader: 'X-Warn', trustmarkHeader: 'X-Mark' }, want: { ...NO_BADGE, trusted: true } },

  // --- case, folding, comments, RFC 8601 syntax ---
  { name: 'mixed case names, ids, methods, results and levels',
    raw: 'AUTHENTICATION-RESULTS: MX.Test.Example;\r\n\tSPF=PASS smtp.mailfrom=bank.example;\r\n\tDKIM=Pass header.d=bank.example;\r\n\tdmARC=fail header.from=bank.example\r\n' +
      'x-senderauth-trust: LEVEL=Fail; FROM=Bank.Example\r\nX-SENDERAUTH-RESULT: FAIL\r\n',
    want: { level: 'fail', warning: true, from: 'bank.example' }, results: { spf: 'pass', dkim: ['pass'], dmarc: 'fail', arc: null } },
  { name: 'LF line ends', raw: (TRUST_LISTED + MARK + AR_PASS_ENFORCED).replace(/\r\n/g, '\n'), want: { level: 'listed', trustmark: true } },
  { name: 'CR line ends', raw: (TRUST_LISTED + MARK + AR_PASS_ENFORCED).replace(/\r\n/g, '\r'), want: { level: 'listed', trustmark: true } },
  { name: 'folded with spaces everywhere',
    raw: 'Authentication-Results:\r\n  mx.test.example\r\n ;\r\n spf\r\n =\r\n pass\r\n smtp\r\n .\r\n mailfrom\r\n =\r\n bank.example\r\n' +
      'X-Senderauth-Trust: level=none;\r\n from=bank.example\r\n',
    want: { level: 'none', from: 'bank.example' }, results: { spf: 'pass', dkim: [], dmarc: null, arc: null } },
  { name: 'comment before the authserv-id',
    raw: 'Authentication-Results: (checked by (our) MX) mx.test.example; dmarc=fail\r\nX-Senderauth-Trust: level=fail\r\n',
    want: { level: 'fail', trusted: true }, results: { spf: null, dkim: [], dmarc: 'fail', arc: null } },
  { name: 'authres-version after the id', raw: 'Authentication-Results: mx.test.example 1; spf=pass smtp.mailfrom=a.example\r\nX-Senderauth-Trust: level=none\r\n',
    want: { level: 'none', trusted: true } },
  { name: 'id/version form', raw: 'Authentication-Results: mx.test.example/1; spf=pass smtp.mailfrom=a.example\r\nX-Senderauth-Trust: level=none\r\n',
    want: { level: 'none', trusted: true } },
  { name: 'quoted authserv-id', raw: 'Authentication-Results: "mx.test.example"; spf=pass\r\nX-Senderauth-Trust: level=none\r\n',
    want: { level: 'none', trusted: true } },
  { name: 'nested comments, reason=, quoted values, method version, @ values',
    raw: 'Authentication-Results: mx.test.example; spf=pass (a (b (c)) d) smtp.mailfrom="user name"@bank.example;\r\n' +
      '\tdkim/1=fail reason="bad (sig)" header.d=bank.example (c) header.i=@bank.example; dmarc=pass (p=reject (x) dis=none) header.from=bank.example\r\n' +
      'X-Senderauth-Trust: level=dmarc-enforced; from=bank.example\r\n',
    want: { level: 'dmarc-enforced' }, results: { spf: 'pass', dkim: ['fail'], dmarc: 'pass', arc: null } },
  { name: 'spf result is the MAIL FROM one even when HELO comes first',
    raw: 'Authentication-Results: mx.test.example; spf=pass smtp.helo=mail.a.example; spf=softfail smtp.mailfrom=a.example; dkim=pass; dkim=fail; dkim=policy; arc=pass\r\n',
    want: { ...NO_BADGE, trusted: true }, results: { spf: 'softfail', dkim: ['pass', 'fail', 'policy'], dmarc: null, arc: 'pass' } },
  { name: 'spf result without smtp.mailfrom is the first one',
    raw: 'Authentication-Results: mx.test.example; spf=none smtp.helo=h.example; spf=pass smtp.helo=x.example\r\n',
    want: { trusted: true }, results: { spf: 'none', dkim: [], dmarc: null, arc: null } },
  { name: 'trailing semicolon tolerated', raw: 'Authentication-Results: mx.test.example; dmarc=pass;\r\nX-Senderauth-Trust: level=dmarc-monitor\r\n',
    want: { level: 'dmarc-monitor' } },
  { name: 'obsolete space before the colon still names the field',
    raw: 'Authentication-Results : mx.test.example; dmarc=pass\r\nX-Senderauth-Trust  : level=none\r\n', want: { level: 'none' } },
  { name: 'a whole message: fields in the body are not read',
    raw: 'X-Senderauth-Trust: level=fail\r\n' + AR_FAIL + BODY + TRUST_LISTED + MARK + AR_FOREIGN_PASS, want: { level: 'fail', trustmark: false } },

  // --- who is trusted ---
  { name: 'forged X-Senderauth fields without trusted A-R', raw: MARK + TRUST_LISTED + COMMON, want: { ...NO_BADGE, trusted: false } },
  { name: 'foreign authserv-id claiming pass', raw: MARK + TRUST_LISTED + AR_FOREIGN_PASS + COMMON,
    want: { ...NO_BADGE, trusted: false }, results: { spf: null, dkim: [], dmarc: null, arc: null } },
  { name: 'foreign A-R ignored next to ours', raw: 'X-Senderauth-Trust: level=fail\r\n' + AR_FOREIGN_PASS + AR_FAIL,
    want: { level: 'fail' }, results: { spf: 'fail', dkim: ['none'], dmarc: 'fail', arc: null } },
  { name: 'id that only starts with ours', raw: TRUST_LISTED + MARK + AR_PASS_ENFORCED.replace('mx.test.example;', 'mx.test.example.evil.example;'),
    want: { ...NO_BADGE, trusted: false } },
  { name: 'our id inside a comment only', raw: TRUST_LISTED + MARK + 'Authentication-Results: (mx.test.example) evil.example; dmarc=pass\r\n',
    want: { ...NO_BADGE, trusted: false } },
  { name: 'id with a non-numeric version is not ours', raw: TRUST_LISTED + MARK + 'Authentication-Results: mx.test.example/evil; dmarc=pass\r\n',
    want: { ...NO_BADGE, trusted: false } },
  { name: 'two A-R fields with our id', raw: TRUST_LISTED + MARK + AR_PASS_ENFORCED + AR_PASS_ENFORCED, want: { ...NO_BADGE, trusted: false } },
  { name: 'second A-R with our id but malformed still counts', raw: TRUST_LISTED + MARK + AR_PASS_ENFORCED + 'Authentication-Results: mx.test.example; dmarc=(\r\n',
    want: { ...NO_BADGE, trusted: false } },
  { name: 'A-R field with a name in another case counts as a copy',
    raw: TRUST_LISTED + MARK + AR_PASS_ENFORCED + 'authentication-RESULTS: MX.TEST.EXAMPLE; dmarc=pass\r\n', want: { ...NO_BADGE } },
  { name: 'two trust fields', raw: TRUST_LISTED + MARK + 'x-senderauth-trust: level=listed; from=bank.example\r\n' + AR_PASS_ENFORCED,
    want: { ...NO_BADGE, trusted: true } },
  { name: 'two warning fields', raw: WARN + WARN + 'X-Senderauth-Trust: level=fail\r\n' + AR_FAIL, want: { ...NO_BADGE, trusted: true } },
  { name: 'two trust-mark fields', raw: MARK + MARK + TRUST_LISTED + AR_PASS_ENFORCED, want: { ...NO_BADGE } },
  { name: 'unknown level', raw: 'X-Senderauth-Trust: level=platinum; from=bank.example\r\n' + AR_PASS_ENFORCED, want: { ...NO_BADGE, trusted: true } },
  { name: 'level parameter twice', raw: 'X-Senderauth-Trust: level=fail; level=listed\r\n' + AR_PASS_ENFORCED, want: { ...NO_BADGE } },
  { name: 'trust field without level', raw: 'X-Senderauth-Trust: from=bank.example\r\n' + AR_PASS_ENFORCED, want: { ...NO_BADGE } },
  { name: 'trust field with a bad domain', raw: 'X-Senderauth-Trust: level=none; from=bank.example<script>\r\n' + AR_PASS_ENFORCED, want: { ...NO_BADGE } },
  { name: 'trust field with 8-bit domain', raw: 'X-Senderauth-Trust: level=none; from=bänk.example\r\n' + AR_PASS_ENFORCED, want: { ...NO_BADGE } },
  { name: 'warning with another value', raw: 'X-Senderauth-Result: pass\r\nX-Senderauth-Trust: level=fail\r\n' + AR_FAIL, want: { ...NO_BADGE } },
  { name: 'warning without trust field', raw: WARN + AR_FAIL, want: { level: null, warning: true, trustmark: false } },
  { name: 'trust mark with a level below listed', raw: MARK + 'X-Senderauth-Trust: level=dmarc-enforced; from=bank.example\r\n' + AR_PASS_ENFORCED,
    want: { ...NO_BADGE } },
  { name: 'trust mark for another domain', raw: 'X-Senderauth-Trustmark: from=evil.example; basis=dmarc\r\n' + TRUST_LISTED + AR_PASS_ENFORCED,
    want: { ...NO_BADGE } },
  { name: 'trust mark with unknown basis', raw: 'X-Senderauth-Trustmark: from=bank.example; basis=friendship\r\n' + TRUST_LISTED + AR_PASS_ENFORCED,
    want: { ...NO_BADGE } },
  { name: 'listed without trust mark', raw: TRUST_LISTED + AR_PASS_ENFORCED, want: { ...NO_BADGE, trusted: true } },

  // --- malformed and hostile ---
  { name: 'unterminated comment in our A-R', raw: TRUST_LISTED + MARK + 'Authentication-Results: mx.test.example; dmarc=pass (p=reject\r\n',
    want: { ...NO_BADGE, trusted: false } },
  { name: 'unterminated nested comment', raw: 'X-Senderauth-Trust: level=none\r\nAuthentication-Results: mx.test.example; dmarc=pass (a (b) c\r\n',
    want: { ...NO_BADGE, trusted: false } },
  { name: 'unterminated quoted value', raw: 'X-Senderauth-Trust: level=none\r\nAuthentication-Results: mx.test.example; spf=pass smtp.mailfrom="a@b.example\r\n',
    want: { ...NO_BADGE, trusted: false } },
  { name: 'backslash at the very end', raw: 'X-Senderauth-Trust: level=none\r\nAuthentication-Results: mx.test.example; spf=pass (x\\', want: { ...NO_BADGE } },
  { name: 'unterminated quoted id', raw: 'X-Senderauth-Trust: level=none\r\nAuthentication-Results: "mx.test.example; dmarc=pass\r\n', want: { ...NO_BADGE } },
  { name: 'A-R with only the id', raw: 'X-Senderauth-Trust: level=none\r\nAuthentication-Results: mx.test.example\r\n', want: { ...NO_BADGE } },
  { name: 'A-R with garbage after a resinfo', raw: 'X-Senderauth-Trust: level=none\r\nAuthentication-Results: mx.test.example; dmarc=pass header.from\r\n',
    want: { ...NO_BADGE } },
  { name: 'A-R with 8-bit value', raw: 'X-Senderauth-Trust: level=none\r\nAuthentication-Results: mx.test.example; dmarc=pass header.from=bänk.example\r\n',
    want: { ...NO_BADGE } },
  { name: 'A-R with NUL', raw: 'X-Senderauth-Trust: level=none\r\nAuthentication-Results: mx.test.example; dmarc=pass\u0000 header.from=x\r\n',
    want: { ...NO_BADGE } },
  { name: 'data after "none"', raw: 'X-Senderauth-Trust: level=none\r\nAuthentication-Results: mx.test.example; none; dmarc=pass\r\n', want: { ...NO_BADGE } },
  { name: 'continuation line at the top is dropped', raw: '\tX-Senderauth-Trust: level=listed\r\nX-Senderauth-Trust: level=none\r\n' + AR_FAIL,
    want: { level: 'none' } },
  { name: 'lines without a colon are dropped with their continuations',
    raw: 'From mbox-line Mon Jan 1\r\n\tX-Senderauth-Trust: level=listed\r\nX-Senderauth-Trust: level=none\r\n' + AR_FAIL, want: { level: 'none' } },
  { name: 'empty input', raw: '', want: { ...NO_BADGE, trusted: false } },
  { name: 'only the body separator', raw: '\r\n' + TRUST_LISTED + AR_PASS_ENFORCED, want: { ...NO_BADGE, trusted: false } },
  { name: 'prototype keys in A-R properties and trust parameters',
    raw: 'Authentication-Results: mx.test.example; dmarc=pass __proto__.polluted=yes constructor.prototype=x header.from=a.example\r\n' +
      'X-Senderauth-Trust: level=none; constructor=y; prototype=z; hasownproperty=1\r\n',
    want: { level: 'none' }, results: { spf: null, dkim: [], dmarc: 'pass', arc: null } },
  { name: '__proto__ is not a parameter name', raw: AR_FAIL + 'X-Senderauth-Trust: level=none; __proto__=x\r\n', want: { ...NO_BADGE } },
  { name: '__proto__ as a field name', raw: '__proto__: level=listed\r\nconstructor: x\r\nX-Senderauth-Trust: level=none\r\n' + AR_FAIL,
    want: { level: 'none' } },
  { name: 'method named __proto__', raw: 'Authentication-Results: mx.test.example; __proto__=pass; constructor=fail\r\nX-Senderauth-Trust: level=none\r\n',
    want: { level: 'none' }, results: { spf: null, dkim: [], dmarc: null, arc: null } },
  { name: 'over maxLength is not read', raw: TRUST_LISTED + MARK + AR_PASS_ENFORCED + 'X-Pad: ' + 'a'.repeat(2 * 1024 * 1024) + '\r\n',
    want: { ...NO_BADGE, trusted: false } },
  { name: 'maxLength option', raw: TRUST_LISTED + MARK + AR_PASS_ENFORCED, opts: { maxLength: 50 }, want: { ...NO_BADGE } },
];

for (const c of cases) {
  test(`parseHeaders: ${c.name}`, () => {
    const got = parseHeaders(c.raw, { authservId: ID, ...(c.opts || {}) });
    for (const [k, v] of Object.entries(c.want)) {
      assert.deepEqual(got[k], v, `parseHeaders(${c.name}).${k}: got ${JSON.stringify(got[k])}, want ${JSON.stringify(v)}; notes: ${got.notes.join('; ')}`);
    }
    if (c.results) assert.deepEqual(got.results, c.results, `parseHeaders(${c.name}).results`);
    // Invariants of every answer.
    assert.ok(got.level === null || LEVELS.includes(got.level), `level ${got.level} not on the ladder`);
    if (!got.trusted) {
      assert.equal(got.level, null);
      assert.equal(got.warning, false);
      assert.equal(got.trustmark, false);
      assert.deepEqual(got.results, { spf: null, dkim: [], dmarc: null, arc: null });
    }
    if (got.trustmark) assert.ok(levelRank(got.level) >= levelRank('listed'));
    assert.equal(Object.prototype.polluted, undefined, 'Object.prototype polluted');
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
  });
}

test('parseHeaders: options.authservId is required', () => {
  for (const o of [undefined, {}, { authservId: '' }, { authservId: ' ' }, { authservId: 7 }]) {
    assert.throws(() => parseHeaders(AR_FAIL, o), TypeError);
  }
});

test('parseHeaders: non-string input gives no badge and does not throw', () => {
  for (const raw of [null, undefined, 42, {}, [], Buffer.from(AR_FAIL), Symbol('x'), () => AR_FAIL]) {
    const got = parseHeaders(raw, { authservId: ID });
    assert.equal(got.level, null);
    assert.equal(got.trusted, false);
  }
});

test('parseHeaders: authserv-id option compared case-insensitively and trimmed', () => {
  const got = parseHeaders('X-Senderauth-Trust: level=none\r\n' + AR_FAIL, { authservId: ' MX.TEST.Example ' });
  assert.equal(got.level, 'none');
});

test('parseHeaders: full resinfos of the trusted field', () => {
  const got = parseHeaders(AR_PASS_ENFORCED, { authservId: ID });
  assert.deepEqual(got.resinfos, [
    { method: 'spf', result: 'pass', reason: null, comment: null, properties: { 'smtp.mailfrom': 'bank.example' } },
    { method: 'dkim', result: 'pass', reason: null, comment: null,
      properties: { 'header.d': 'bank.example', 'header.s': 's1', 'header.a': 'rsa-sha256', 'header.b': 'AbCdEf12' } },
    { method: 'dmarc', result: 'pass', reason: null, comment: 'p=reject dis=none',
      properties: { 'header.from': 'bank.example', 'policy.dmarc': 'reject' } },
  ]);
});

// parseAuthResults rows: value, want (null = malformed) as [method, result, reason, comment, properties] lists.
const arCases = [
  [' a.example; spf=pass smtp.mailfrom=x.example', [['spf', 'pass', null, null, { 'smtp.mailfrom': 'x.example' }]]],
  [' a.example; none', []],
  [' a.example ; NONE ', []],
  [' a.example; dkim=fail reason="bad sig" header.d=x.example', [['dkim', 'fail', 'bad sig', null, { 'header.d': 'x.example' }]]],
  [' a.example; dkim=fail reason=bad header.d=x', [['dkim', 'fail', 'bad', null, { 'header.d': 'x' }]]],
  [' a.example; dkim=fail (one) (two) header.d=x', [['dkim', 'fail', null, 'one', { 'header.d': 'x' }]]],
  [' a.example; spf=pass smtp.mailfrom=@x.example', [['spf', 'pass', null, null, { 'smtp.mailfrom': '@x.example' }]]],
  [' a.example; spf=pass smtp.mailfrom=u@x.example', [['spf', 'pass', null, null, { 'smtp.mailfrom': 'u@x.example' }]]],
  [' a.example; spf=pass smtp.mailfrom=""', [['spf', 'pass', null, null, { 'smtp.mailfrom': '' }]]],
  [' a.example; spf=pass smtp.mailfrom="a\\"b"', [['spf', 'pass', null, null, { 'smtp.mailfrom': 'a"b' }]]],
  [' a.example; dkim=pass header.d=x header.d=y', [['dkim', 'pass', null, null, { 'header.d': 'x' }]]],
  [' a.example; dkim=pass (a \\) b) header.d=x', [['dkim', 'pass', null, 'a ) b', { 'header.d': 'x' }]]],
  [' a.example; dkim = pass header . d = x', [['dkim', 'pass', null, null, { 'header.d': 'x' }]]],
  [' a.example; reason=pass', [['reason', 'pass', null, null, {}]]],
  [' a.example; dkim=pass reason.x=y', [['dkim', 'pass', null, null, { 'reason.x': 'y' }]]],
  [' a.example', null],
  [' a.example;', []],
  ['', null],
  [' ; spf=pass', null],
  [' a.example; =pass', null],
  [' a.example; spf=', null],
  [' a.example; spf pass', null],
  [' a.example; spf=pass smtp', null],
  [' a.example; spf=pass smtp.mailfrom', null],
  [' a.example; spf=pass smtp.mailfrom=', null],
  [' a.example; spf=pass smtp.=x', null],
  [' a.example; spf=pass .mailfrom=x', null],
  [' a.example; spf=pass reason=', null],
  [' a.example; spf=pass (unterminated', null],
  [' a.example; spf=pass smtp.mailfrom="x', null],
  [' a.example; spf/x=pass', null],
  [' a.example spf=pass', null],
  [' a.example; none none', null],
];

for (const [value, want] of arCases) {
  test(`parseAuthResults(${JSON.stringify(value)})`, () => {
    const got = parseAuthResults(value);
    if (want === null) {
      assert.equal(got, null, `parseAuthResults(${JSON.stringify(value)}): got ${JSON.stringify(got)}, want null`);
      return;
    }
    assert.ok(got, `parseAuthResults(${JSON.stringify(value)}): got null, want a result`);
    assert.equal(got.authservId, 'a.example');
    const flat = got.resinfos.map((r) => [r.method, r.result, r.reason, r.comment, r.properties]);
    assert.deepEqual(flat, want);
  });
}

const trustCases = [
  ['level=listed; from=bank.example', { level: 'listed', from: 'bank.example' }],
  ['level=fail', { level: 'fail', from: null }],
  ['LEVEL=DMARC-MONITOR; From=XN--BCHER-KVA.Example', { level: 'dmarc-monitor', from: 'xn--bcher-kva.example' }],
  ['level=none ; from=a.example ; x-new=1', { level: 'none', from: 'a.example' }],
  ['level=none;', null],
  ['level=unknown', null],
  ['level=', null],
  ['level', null],
  ['', null],
  ['from=a.example', null],
  ['level=none; from=a..example', null],
  ['level=none; from=-a.example', null],
  ['level=none; from=a.example.', null],
  ['level=none; from=' + 'a'.repeat(64) + '.example', null],
  ['level=none; from=a_b.example', null],
  ['level=none; level=none', null],
  ['level=none; from=a.example; from=b.example', null],
  ['level=none; bad name=1', null],
  ['level=none; x=a b', null],
  ['level="none"', null],
  ['level=bimi; from=bank.example; authority=vmc', { level: 'bimi', from: 'bank.example', authority: 'vmc' }],
  ['level=BIMI; authority=CMC; from=Bank.Example', { level: 'bimi', from: 'bank.example', authority: 'cmc' }],
  ['level=bimi; from=bank.example', null],
  ['level=bimi; from=bank.example; authority=gold', null],
  ['level=bimi; from=bad_domain; authority=vmc', null],
  ['level=none; authority=vmc', { level: 'none', from: null }],
];
for (const [value, want] of trustCases) {
  test(`parseTrustValue(${JSON.stringify(value)})`, () => {
    assert.deepEqual(parseTrustValue(value), want);
  });
}

const markCases = [
  ['from=bank.example; basis=dmarc', { from: 'bank.example', basis: 'dmarc' }],
  ['basis=Author-Signature; from=Bank.Example', { from: 'bank.example', basis: 'author-signature' }],
  ['from=bank.example; basis=dmarc; x-more=1', { from: 'bank.example', basis: 'dmarc' }],
  ['from=bank.example', null],
  ['basis=dmarc', null],
  ['from=bank.example; basis=bimi', null],
  ['from=bank example; basis=dmarc', null],
  ['yes', null],
];
for (const [value, want] of markCases) {
  test(`parseTrustmarkValue(${JSON.stringify(value)})`, () => {
    assert.deepEqual(parseTrustmarkValue(value), want);
  });
}

const indicatorCases = [
  [LOGO_B64, LOGO],
  [LOGO_B64.match(/.{1,76}/g).join('\r\n\t'), LOGO],
  [Buffer.from('<svg>x</svg>').toString('base64'), '<svg>x</svg>'],
  [Buffer.from('not svg').toString('base64'), null],
  [Buffer.from('<html></html>').toString('base64'), null],
  [Buffer.from([0x3c, 0x73, 0x76, 0x67, 0x3e, 0xff, 0xfe]).toString('base64'), null], // not UTF-8
  [Buffer.from('<svg>' + 'x'.repeat(40000) + '</svg>').toString('base64'), null], // over 32 KB
  ['PHN2Zz4*', null],
  ['PHN2Zz4', null],
  ['', null],
  [null, null],
];
for (const [value, want] of indicatorCases) {
  test(`decodeIndicator(${JSON.stringify(value).slice(0, 40)})`, () => {
    assert.equal(decodeIndicator(value), want);
  });
}

test('unfoldHeaders: unfolds, keeps names, stops at the body', () => {
  assert.deepEqual(unfoldHeaders('A: 1\r\n 2\r\n\t3\r\nB :x\nC:\r\n\r\nD: body\r\n'), [
    { name: 'A', value: ' 1 2\t3' },
    { name: 'B', value: 'x' },
    { name: 'C', value: '' },
  ]);
  assert.deepEqual(unfoldHeaders('no colon\r\n cont\r\n: empty name\r\nBad Name: x\r\nOk: y'), [{ name: 'Ok', value: ' y' }]);
});

test('levelRank follows the ladder', () => {
  assert.deepEqual(LEVELS.map(levelRank), [0, 1, 2, 3, 4, 5]);
  assert.equal(levelRank(null), -1);
  assert.equal(levelRank('unknown'), -1);
});

// The writer's golden files (tests/unit/ar/*.out) are what senderauthd writes: every one
// must parse, with one resinfo per ";"-separated item (docs/authentication-results.md
// guarantees ";" appears only between resinfos).
test('parseAuthResults reads every golden file of the A-R writer', () => {
  const dir = path.join(srcRoot, 'tests/unit/ar');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.out')).sort();
  assert.ok(files.length > 0, `no golden files in ${dir}`);
  let checked = 0;
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    if (!text.startsWith('Authentication-Results:')) continue; // writer error cases
    const fields = unfoldHeaders(text);
    assert.equal(fields.length, 1, `${f}: got ${fields.length} fields, want 1`);
    const got = parseAuthResults(fields[0].value);
    assert.ok(got, `${f}: parseAuthResults returned null for ${JSON.stringify(fields[0].value)}`);
    const body = fields[0].value.slice(fields[0].value.indexOf(';') + 1).trim();
    const want = body === 'none' ? 0 : body.split(';').length;
    assert.equal(got.resinfos.length, want, `${f}: got ${got.resinfos.length} resinfos, want ${want}`);
    for (const r of got.resinfos) assert.match(r.method, /^(iprev|spf|arc|dkim|dmarc|bimi)$/, `${f}: method ${r.method}`);
    checked++;
  }
  assert.ok(checked >= 5, `only ${checked} golden files checked`);
});

// A deterministic random walk over the characters that matter to the grammar: the parser
// never throws, and an untrusted answer never carries a badge.
test('parseHeaders never throws on random header blocks', () => {
  let seed = 12345;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const atoms = ['Authentication-Results:', ' mx.test.example', 'X-Senderauth-Trust:', ' level=listed', '; from=bank.example',
    'X-Senderauth-Trustmark:', ' from=bank.example; basis=dmarc', 'X-Senderauth-Result: fail', ';', '=', '(', ')', '"', '\\',
    '.', '@', ' ', '\t', '\r\n', '\n', '\r', '\r\n\t', 'dmarc', 'pass', 'spf', 'header.from', '__proto__', '\u0000', 'é', '/1'];
  for (let i = 0; i < 3000; i++) {
    let s = '';
    const len = rnd(40);
    for (let j = 0; j < len; j++) s += atoms[rnd(atoms.length)];
    const got = parseHeaders(s, { authservId: ID });
    if (!got.trusted) assert.equal(got.level, null, `untrusted but level ${got.level}: ${JSON.stringify(s)}`);
    if (got.trustmark) assert.equal(got.level, 'listed');
  }
});

test('parseHeaders: large and deeply nested inputs stay linear', () => {
  const many = 'X-Senderauth-Trust: level=none\r\n' + AR_FAIL + 'X-Pad: x\r\n'.repeat(90000);
  assert.equal(parseHeaders(many, { authservId: ID }).level, 'none');
  const deep = 'Authentication-Results: mx.test.example; dmarc=pass ' + '('.repeat(400000) + ')'.repeat(400000) + '\r\nX-Senderauth-Trust: level=none\r\n';
  assert.equal(parseHeaders(deep, { authservId: ID }).level, 'none');
  const open = 'Authentication-Results: mx.test.example; dmarc=pass ' + '('.repeat(800000) + '\r\n';
  assert.equal(parseHeaders(open, { authservId: ID }).trusted, false);
  const folds = 'Authentication-Results: mx.test.example;' + '\r\n '.repeat(300000) + 'dmarc=fail\r\nX-Senderauth-Trust: level=fail\r\n';
  assert.equal(parseHeaders(folds, { authservId: ID }).level, 'fail');
  const resinfos = 'Authentication-Results: mx.test.example' + '; dkim=pass header.d=a.example'.repeat(20000) + '\r\n';
  const got = parseHeaders(resinfos, { authservId: ID });
  assert.equal(got.trusted, true);
  assert.ok(got.results.dkim.length <= 1000, `got ${got.results.dkim.length} dkim results`);
});
