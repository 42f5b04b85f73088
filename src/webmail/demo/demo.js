// demo.js - the badge demo page: parses a pasted header block or each example block with
// the reference parser and shows the badge, in English or Japanese.
// Owns: the page's DOM. Not: parsing (../senderauth-headers.js) nor texts (labels.js).
// Every value from a header block reaches the page through textContent only.
// URL parameters: lang=en|ja, example=NAME (loads that example into the form).
import { parseHeaders } from '../senderauth-headers.js';
import { badgeView, text, pickLang } from './labels.js';
import { normalizeIndex } from './examples.js';

const EXAMPLES_URL = '../examples/';
const params = new URLSearchParams(location.search);
let lang = pickLang(params.get('lang') || navigator.language);
let current = null; // the parsed answer shown in the form's result
let formOptions = {}; // header names of the example last loaded into the form
const cards = []; // {el, parsed}

const $ = (sel, root = document) => root.querySelector(sel);

// showLogo - the BIMI logo of a level-bimi answer as an <img> from its data: URI (an SVG
// shown as an image runs no script and loads nothing), with the check mark for a VMC only.
function showLogo(root, parsed) {
  const v = badgeView(parsed, lang);
  const logo = $('.bimi-logo', root);
  const check = $('.bimi-check', root);
  logo.hidden = !v.logo;
  if (v.logo) {
    logo.src = v.logo;
    logo.alt = v.logoAlt;
  } else {
    logo.removeAttribute('src');
    logo.alt = '';
  }
  check.hidden = !v.checkMark;
  check.title = v.checkMark || '';
  check.setAttribute('aria-label', v.checkMark || '');
}

// showBadge - fill a badge row, warning and trust-mark line inside root.
function showBadge(root, parsed, badgeSel, warnSel, markSel, fromSel) {
  const v = badgeView(parsed, lang);
  showLogo(root, parsed);
  const badge = $(badgeSel, root);
  badge.className = v.className;
  badge.dataset.level = v.key;
  badge.textContent = v.label;
  $(fromSel, root).textContent = parsed.from || '';
  const warn = $(warnSel, root);
  warn.hidden = !v.warning;
  warn.textContent = v.warning || '';
  const mark = $(markSel, root);
  mark.hidden = !v.trustmark;
  mark.textContent = v.trustmark || '';
}

function showDetails(parsed) {
  $('#untrusted').hidden = parsed.trusted;
  const body = $('#results tbody');
  body.replaceChildren();
  for (const ri of parsed.resinfos) {
    const tr = document.createElement('tr');
    const props = Object.entries(ri.properties).map(([k, v]) => `${k}=${v}`);
    for (const cell of [ri.method, ri.result, ri.comment || ri.reason || '', props.join(' ')]) {
      const td = document.createElement('td');
      td.textContent = cell;
      tr.append(td);
    }
    body.append(tr);
  }
  $('#notes').textContent = parsed.notes.join('; ') || '-';
}

function check() {
  const id = $('#authserv-id').value.trim() || 'mx.test.example';
  current = parseHeaders($('#headers').value, { ...formOptions, authservId: id });
  const result = $('#result');
  result.hidden = false;
  showBadge(result, current, '#badge', '#warning', '#trustmark', '#from');
  showDetails(current);
}

function setLang(l) {
  lang = pickLang(l);
  document.documentElement.lang = lang;
  const t = text(lang);
  document.title = t.title;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t[el.dataset.t];
  for (const b of document.querySelectorAll('[data-lang]')) b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
  if (current) showBadge($('#result'), current, '#badge', '#warning', '#trustmark', '#from');
  for (const c of cards) showBadge(c.el, c.parsed, '.badge', '.warning', '.trustmark', '.from');
  const u = new URL(location.href);
  u.searchParams.set('lang', lang);
  history.replaceState(null, '', u);
}

async function fetchText(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.text();
}

async function loadExamples() {
  let list = [];
  try {
    list = normalizeIndex(JSON.parse(await fetchText(`${EXAMPLES_URL}index.json`)));
  } catch {
    list = [];
  }
  $('#no-examples').hidden = list.length > 0;
  const tpl = $('#example-card');
  const want = params.get('example');
  const blocks = await Promise.all(list.map((ex) => fetchText(EXAMPLES_URL + encodeURIComponent(ex.file)).catch(() => null)));
  list.forEach((ex, i) => {
    const block = blocks[i];
    if (block === null) return;
    const id = ex.authservId || $('#authserv-id').value;
    const el = tpl.content.firstElementChild.cloneNode(true);
    el.dataset.name = ex.name;
    $('.example-title', el).textContent = ex.title;
    $('.example-description', el).textContent = ex.description;
    $('.example-file', el).textContent = ex.file;
    $('.example-block', el).textContent = block;
    const parsed = parseHeaders(block, { ...ex.options, authservId: id });
    cards.push({ el, parsed });
    const load = () => {
      $('#authserv-id').value = id;
      $('#headers').value = block;
      formOptions = ex.options;
      check();
    };
    $('.load', el).addEventListener('click', load);
    $('#examples').append(el);
    if (ex.name === want) load();
  });
  setLang(lang);
  document.body.dataset.ready = 'true';
}

$('#form').addEventListener('submit', (e) => {
  e.preventDefault();
  check();
});
for (const b of document.querySelectorAll('[data-lang]')) b.addEventListener('click', () => setLang(b.dataset.lang));
setLang(lang);
loadExamples();
