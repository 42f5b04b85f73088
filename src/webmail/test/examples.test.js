// examples.test.js - the parser against the header blocks senderauthd itself produced
// (tests/webmail-examples, with the expected level, warning and trust mark in index.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHeaders } from '../senderauth-headers.js';
import { loadExamples } from '../scripts/load-examples.js';

const { dir, examples } = loadExamples();

test(`example index ${dir} covers every level the contract's examples need`, () => {
  const levels = new Set(examples.map((e) => e.level));
  for (const want of ['listed', 'fail']) assert.ok(levels.has(want), `no example with level ${want}`);
  assert.ok(examples.some((e) => e.warning), 'no example with a warning');
  assert.ok(examples.some((e) => e.trustmark), 'no example with a trust mark');
});

for (const ex of examples) {
  test(`example ${ex.name}: level ${ex.level}, warning ${ex.warning}, trustmark ${ex.trustmark}`, () => {
    assert.ok(ex.authservId, `${ex.file}: the index gives no authserv-id`);
    const got = parseHeaders(ex.block, { ...ex.options, authservId: ex.authservId });
    const note = `notes: ${got.notes.join('; ')}`;
    assert.equal(got.level, ex.level, `${ex.file}: level got ${got.level}, want ${ex.level}; ${note}`);
    assert.equal(got.warning, ex.warning, `${ex.file}: warning got ${got.warning}, want ${ex.warning}; ${note}`);
    assert.equal(got.trustmark, ex.trustmark, `${ex.file}: trustmark got ${got.trustmark}, want ${ex.trustmark}; ${note}`);
    if (ex.results) assert.deepEqual(got.results, ex.results, `${ex.file}: results`);
    if (ex.from !== undefined) assert.equal(got.from, ex.from, `${ex.file}: from got ${got.from}, want ${ex.from}`);
    if (ex.trustmarkBasis !== undefined) {
      assert.equal(got.trustmarkBasis, ex.trustmarkBasis, `${ex.file}: basis got ${got.trustmarkBasis}, want ${ex.trustmarkBasis}`);
    }
    // The same block read with another authserv-id is never trusted.
    const other = parseHeaders(ex.block, { ...ex.options, authservId: `not-${ex.authservId}` });
    assert.equal(other.level, null, `${ex.file} with a foreign authserv-id: level ${other.level}`);
    assert.equal(other.warning || other.trustmark, false);
    // A second copy of our A-R field, or of any X-Senderauth field present, removes the badge.
    for (const line of ex.block.split(/\r?\n/).filter((l) => /^(X-Senderauth-[A-Za-z]+|Authentication-Results):/i.test(l))) {
      const head = line.startsWith('Authentication-Results:') ? line + ' (copy)' : line;
      if (line.startsWith('Authentication-Results:') && !line.includes(ex.authservId)) continue;
      const twice = parseHeaders(head + '\r\n' + ex.block, { ...ex.options, authservId: ex.authservId });
      assert.equal(twice.level, null, `${ex.file} with a second "${line}": level ${twice.level}`);
      assert.equal(twice.warning || twice.trustmark, false, `${ex.file} with a second "${line}"`);
    }
  });
}
