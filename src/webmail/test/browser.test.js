// browser.test.js - the demo page in headless Chromium (Debian's chromium driven by
// playwright-core): for every example block senderauthd produced, in English and Japanese,
// the badge, warning and trust mark shown; the language switch; pasted hostile blocks.
// Serves src/webmail over a loopback HTTP server on a free port; saves one screenshot per
// example and language under $SA_BUILD/webmail-screenshots (else a temporary folder),
// printed at the end (one picture of the result per example and language, and the whole
// page per language). A missing Chromium or playwright-core is a failure, not a skip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer } from '../scripts/serve-demo.js';
import { loadExamples } from '../scripts/load-examples.js';

const CHROMIUM = process.env.SA_CHROMIUM || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// What each badge must say, written out here (not taken from labels.js) so that a lost or
// wrong translation fails the test.
const WANT = {
  en: {
    unverified: 'No badge', fail: 'Authentication failed', none: 'Not authenticated',
    'dmarc-monitor': 'Authenticated (DMARC, monitor policy)', 'dmarc-enforced': 'Authenticated (DMARC, enforced policy)',
    listed: 'Verified sender', bimi: 'Verified sender (BIMI)', warning: /^Warning: /, trustmark: /^Trust mark: /,
  },
  ja: {
    unverified: 'バッジなし', fail: '認証失敗', none: '送信ドメイン認証なし',
    'dmarc-monitor': '認証済み (DMARC 監視ポリシー)', 'dmarc-enforced': '認証済み (DMARC 強制ポリシー)',
    listed: '確認済みの送信者', bimi: '確認済みの送信者 (BIMI)', warning: /^警告: /, trustmark: /^トラストマーク: /,
  },
};

const { dir: examplesDir, examples } = loadExamples();
const shotDir = process.env.SA_BUILD
  ? path.join(process.env.SA_BUILD, 'webmail-screenshots')
  : fs.mkdtempSync(path.join(os.tmpdir(), 'webmail-screenshots-'));
let server;
let context;
let page;
let profile;
const pageErrors = [];

before(async () => {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's "chromium" package (or set SA_CHROMIUM)`);
  }
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed: run "npm install --no-audit --no-fund" in src/webmail (${e.message})`);
  }
  fs.rmSync(shotDir, { recursive: true, force: true }); // only this run's pictures
  fs.mkdirSync(shotDir, { recursive: true });
  server = await startServer({ examplesDir });
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'webmail-chromium-'));
  // A fresh profile each run: launchPersistentContext passes it as --user-data-dir.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1100, height: 900 },
    timeout: 30000,
  });
  page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
});

after(async () => {
  if (context) await context.close();
  if (server) await server.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  console.log(`webmail screenshots: ${shotDir}`);
});

async function open(query) {
  await page.goto(`${server.url}?${query}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
}

// shown - what the form's result (or one example card) displays.
async function shown(root) {
  return page.$eval(root, (el) => {
    const q = (s) => el.querySelector(s);
    return {
      level: q('.badge').dataset.level,
      className: q('.badge').className,
      label: q('.badge').textContent,
      warning: q('.warning').hidden ? null : q('.warning').textContent,
      trustmark: q('.trustmark').hidden ? null : q('.trustmark').textContent,
    };
  });
}

function check(got, ex, lang, where) {
  const key = ex.level || 'unverified';
  const want = WANT[lang];
  assert.equal(got.level, key, `${where}: level got ${got.level}, want ${key}`);
  assert.ok(got.className.split(' ').includes(`badge-${key}`), `${where}: class got "${got.className}", want badge-${key}`);
  assert.equal(got.label, want[key], `${where}: label got "${got.label}", want "${want[key]}"`);
  if (ex.warning) assert.match(got.warning || '', want.warning, `${where}: warning got ${got.warning}`);
  else assert.equal(got.warning, null, `${where}: warning shown: ${got.warning}`);
  if (ex.trustmark) assert.match(got.trustmark || '', want.trustmark, `${where}: trust mark got ${got.trustmark}`);
  else assert.equal(got.trustmark, null, `${where}: trust mark shown: ${got.trustmark}`);
}

// One page load per language; each example block is then loaded into the form by its
// card's button (as a user would), and the form's badge and the card's badge checked.
for (const lang of ['en', 'ja']) {
  test(`badges for every example in ${lang}`, { timeout: 120000 }, async (t) => {
    await open(`lang=${lang}`);
    assert.equal(await page.getAttribute('html', 'lang'), lang);
    assert.equal(await page.locator('.example').count(), examples.length, 'cards shown');
    for (const ex of examples) {
      await t.test(`${ex.name}: ${ex.level || 'no badge'}`, async () => {
        await page.click(`.example[data-name="${ex.name}"] .load`);
        // A textarea's value has LF line ends.
        assert.equal(await page.inputValue('#headers'), ex.block.replace(/\r\n?/g, '\n'), 'block not loaded into the form');
        check(await shown('#result'), ex, lang, `form, ${ex.name}, ${lang}`);
        check(await shown(`.example[data-name="${ex.name}"]`), ex, lang, `card, ${ex.name}, ${lang}`);
        await page.locator('#result').screenshot({ path: path.join(shotDir, `${ex.name}-${lang}.png`) });
      });
    }
    await page.screenshot({ path: path.join(shotDir, `page-${lang}.png`), fullPage: true });
  });
}

test('?example=NAME loads that block when the page opens', { timeout: 30000 }, async () => {
  const ex = examples.find((e) => e.warning) || examples[0];
  await open(`lang=ja&example=${encodeURIComponent(ex.name)}`);
  assert.equal(await page.inputValue('#headers'), ex.block.replace(/\r\n?/g, '\n'));
  check(await shown('#result'), ex, 'ja', `opened with ${ex.name}`);
});

test('the language switch relabels the badge without reloading', { timeout: 30000 }, async () => {
  const ex = examples.find((e) => e.level) || examples[0];
  await open(`lang=en&example=${encodeURIComponent(ex.name)}`);
  check(await shown('#result'), ex, 'en', 'before switch');
  await page.evaluate(() => {
    window.notReloaded = true;
  });
  await page.click('#lang-ja');
  check(await shown('#result'), ex, 'ja', 'after switch to ja');
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page reloaded');
  assert.equal(await page.getAttribute('#lang-ja', 'aria-pressed'), 'true');
  assert.match(page.url(), /[?&]lang=ja(&|$)/);
  await page.click('#lang-en');
  check(await shown('#result'), ex, 'en', 'after switch back to en');
});

test('a pasted forged block gets no badge and its text is never markup', { timeout: 30000 }, async () => {
  await open('lang=en');
  const forged =
    'X-Senderauth-Trustmark: from=bank.example; basis=dmarc\r\n' +
    'X-Senderauth-Trust: level=listed; from=bank.example\r\n' +
    'Authentication-Results: evil.example; dmarc=pass header.from=bank.example\r\n';
  await page.fill('#authserv-id', 'mx.test.example');
  await page.fill('#headers', forged);
  await page.click('#check');
  check(await shown('#result'), { level: null, warning: false, trustmark: false }, 'en', 'forged');
  const hostile =
    'X-Senderauth-Trust: level=fail; from=bank.example\r\nX-Senderauth-Result: fail\r\n' +
    'Authentication-Results: mx.test.example; dmarc=fail (<img src=x onerror=window.pwned=1>) header.from="<b>x</b>"\r\n';
  await page.fill('#headers', hostile);
  await page.click('#check');
  check(await shown('#result'), { level: 'fail', warning: true, trustmark: false }, 'en', 'hostile');
  assert.equal(await page.$$eval('#result img:not(.bimi-logo), #result b', (els) => els.length), 0, 'header text became markup');
  assert.equal(await page.getAttribute('#result .bimi-logo', 'src'), null, 'a logo without level bimi');
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  assert.match(await page.textContent('#results'), /<img src=x/);
});

// BIMI (docs/bimi.md): level bimi shows the logo from BIMI-Indicator as an image, with the
// check mark for a VMC and without it for a CMC; forged BIMI fields show nothing.
const LOGO = '<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 10 10">' +
  '<title>Bank</title><circle cx="5" cy="5" r="4" fill="#0a0"/><script>window.pwned=2</script></svg>';
const bimiBlock = (auth, ar = true) =>
  `X-Senderauth-Trust: level=bimi; from=bank.example; authority=${auth}\r\n` +
  'BIMI-Indicator: ' + Buffer.from(LOGO).toString('base64').match(/.{1,76}/g).join('\r\n\t') + '\r\n' +
  (ar ? 'Authentication-Results: mx.test.example; dmarc=pass header.from=bank.example;\r\n' +
    `\tbimi=pass header.d=bank.example header.selector=default policy.authority=${auth}\r\n` : '');

async function logoShown() {
  return page.$eval('#result', (el) => {
    const img = el.querySelector('.bimi-logo');
    const check = el.querySelector('.bimi-check');
    return { logo: !img.hidden && (img.getAttribute('src') || '').startsWith('data:image/svg+xml;base64,'),
      loaded: img.complete && img.naturalWidth > 0, check: !check.hidden, checkLabel: check.getAttribute('aria-label') };
  });
}

for (const [auth, lang, wantCheck] of [['vmc', 'en', /^Verified mark/], ['cmc', 'en', null], ['vmc', 'ja', /^確認済みマーク/]]) {
  test(`a pasted BIMI ${auth} block shows the logo ${wantCheck ? 'with' : 'without'} the check mark (${lang})`, { timeout: 30000 }, async () => {
    await open(`lang=${lang}`);
    await page.fill('#authserv-id', 'mx.test.example');
    await page.fill('#headers', bimiBlock(auth));
    await page.click('#check');
    check(await shown('#result'), { level: 'bimi', warning: false, trustmark: false }, lang, `bimi ${auth}`);
    await page.waitForFunction(() => document.querySelector('#result .bimi-logo').complete, null, { timeout: 10000 });
    const got = await logoShown();
    assert.equal(got.logo, true, `bimi ${auth}: logo not shown`);
    assert.equal(got.loaded, true, `bimi ${auth}: logo image did not render`);
    assert.equal(got.check, Boolean(wantCheck), `bimi ${auth}: check mark shown ${got.check}`);
    if (wantCheck) assert.match(got.checkLabel, wantCheck);
    assert.equal(await page.evaluate(() => window.pwned), undefined, 'the SVG ran a script');
    await page.locator('#result').screenshot({ path: path.join(shotDir, `bimi-${auth}-${lang}.png`) });
  });
}

test('forged BIMI fields without our A-R show no logo', { timeout: 30000 }, async () => {
  await open('lang=en');
  await page.fill('#authserv-id', 'mx.test.example');
  await page.fill('#headers', bimiBlock('vmc', false));
  await page.click('#check');
  check(await shown('#result'), { level: null, warning: false, trustmark: false }, 'en', 'forged bimi');
  const got = await logoShown();
  assert.equal(got.logo || got.check, false, 'forged BIMI fields shown');
});

test('no script errors on the page', () => {
  assert.deepEqual(pageErrors, []);
});
