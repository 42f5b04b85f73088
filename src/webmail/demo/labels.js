// labels.js - what the demo badge says and how it looks, in English and Japanese.
// Owns: the texts and the CSS class of each badge. Not: parsing (senderauth-headers.js)
// nor the DOM (demo.js). A webmail may copy these texts; they follow the ladder of
// docs/webmail-headers.md, where only "listed" and "bimi" read as "trusted".

export const LANGS = Object.freeze(['en', 'ja']);

const TEXT = {
  en: {
    title: 'Sender authentication badge',
    intro: 'Paste the header of a message delivered by your mail server to see the badge senderauthd asks a webmail to show.',
    langLabel: 'Language',
    authservId: 'Trusted authserv-id (your MTA)',
    headers: 'Header block',
    show: 'Show badge',
    examples: 'Examples produced by senderauthd',
    noExamples: 'No example files were found; paste a header block above.',
    load: 'Load into the form',
    results: 'Authentication-Results (trusted field)',
    untrusted: 'The header has no single trusted Authentication-Results field from this authserv-id, so no badge is shown.',
    notes: 'Why',
    levels: {
      unverified: 'No badge',
      fail: 'Authentication failed',
      none: 'Not authenticated',
      'dmarc-monitor': 'Authenticated (DMARC, monitor policy)',
      'dmarc-enforced': 'Authenticated (DMARC, enforced policy)',
      listed: 'Verified sender',
      bimi: 'Verified sender (BIMI)',
    },
    warning: (from) =>
      from
        ? `Warning: this message claims to come from ${from} but failed sender authentication. It may be a fake.`
        : 'Warning: this message failed sender authentication. It may be a fake.',
    trustmark: (from, basis) => `Trust mark: ${from} is a vetted sender (${basis === 'dmarc' ? 'DMARC' : 'author signature'}).`,
    bimiLogo: (from) => `Logo of ${from || 'the sender'}`,
    bimiCheck: 'Verified mark: registered trademark (VMC)',
  },
  ja: {
    title: '送信者認証バッジ',
    intro: 'メールサーバーが配送したメールのヘッダーを貼り付けると、senderauthd が Web メールに表示を求めるバッジを確認できます。',
    langLabel: '言語',
    authservId: '信頼する authserv-id (自社 MTA)',
    headers: 'ヘッダー',
    show: 'バッジを表示',
    examples: 'senderauthd が生成した例',
    noExamples: '例のファイルが見つかりません。上の欄にヘッダーを貼り付けてください。',
    load: 'フォームに読み込む',
    results: 'Authentication-Results (信頼するフィールド)',
    untrusted: 'この authserv-id の信頼できる Authentication-Results がちょうど 1 つではないため、バッジは表示しません。',
    notes: '理由',
    levels: {
      unverified: 'バッジなし',
      fail: '認証失敗',
      none: '送信ドメイン認証なし',
      'dmarc-monitor': '認証済み (DMARC 監視ポリシー)',
      'dmarc-enforced': '認証済み (DMARC 強制ポリシー)',
      listed: '確認済みの送信者',
      bimi: '確認済みの送信者 (BIMI)',
    },
    warning: (from) =>
      from
        ? `警告: このメールは ${from} からの送信を名乗っていますが、送信ドメイン認証に失敗しました。なりすましの可能性があります。`
        : '警告: このメールは送信ドメイン認証に失敗しました。なりすましの可能性があります。',
    trustmark: (from, basis) => `トラストマーク: ${from} は確認済みの送信者です (${basis === 'dmarc' ? 'DMARC' : '作成者署名'})。`,
    bimiLogo: (from) => `${from || '送信者'} のロゴ`,
    bimiCheck: '確認済みマーク: 登録商標 (VMC)',
  },
};

/** pickLang - a supported language for a requested one ("ja-JP" -> "ja"), else "en". */
export function pickLang(want) {
  const l = String(want || '').toLowerCase().slice(0, 2);
  return LANGS.includes(l) ? l : 'en';
}

/** text - the page texts of a language. */
export function text(lang) {
  return TEXT[pickLang(lang)];
}

/**
 * badgeView - what to show for one parseHeaders() answer.
 * @returns {{key: string, className: string, label: string, warning: string|null,
 *   trustmark: string|null, logo: string|null, logoAlt: string, checkMark: string|null}}
 *   key is the level or "unverified" (no badge); logo the data: URI of the BIMI logo
 *   (level bimi with a usable BIMI-Indicator only); checkMark the check mark's text,
 *   only for a VMC logo (a CMC logo is shown without it).
 */
export function badgeView(parsed, lang) {
  const t = text(lang);
  const key = parsed && parsed.level ? parsed.level : 'unverified';
  const bimi = key === 'bimi' && parsed.bimi ? parsed.bimi : null;
  return {
    key,
    className: `badge badge-${key}`,
    label: t.levels[key] || t.levels.unverified,
    warning: parsed && parsed.warning ? t.warning(parsed.from) : null,
    trustmark: parsed && parsed.trustmark ? t.trustmark(parsed.from, parsed.trustmarkBasis) : null,
    logo: bimi && bimi.logoDataUri ? bimi.logoDataUri : null,
    logoAlt: t.bimiLogo(parsed && parsed.from),
    checkMark: bimi && bimi.logoDataUri && bimi.checkMark ? t.bimiCheck : null,
  };
}
