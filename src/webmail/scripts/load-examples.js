// load-examples.js - the example header blocks senderauthd produced (tests/webmail-examples,
// written by tests/integration/test_badge_examples.py), read from disk for the Node tests.
// Owns: locating and reading them. Not: their format (../demo/examples.js).
import fs from 'node:fs';
import path from 'node:path';
import { normalizeIndex } from '../demo/examples.js';
import { DEFAULT_EXAMPLES_DIR } from './serve-demo.js';

/** examplesDir - SA_WEBMAIL_EXAMPLES, else $SA_SRC/tests/webmail-examples, else the folder
 * next to this source tree. */
export function examplesDir() {
  if (process.env.SA_WEBMAIL_EXAMPLES) return path.resolve(process.env.SA_WEBMAIL_EXAMPLES);
  if (process.env.SA_SRC) return path.resolve(process.env.SA_SRC, 'tests/webmail-examples');
  return DEFAULT_EXAMPLES_DIR;
}

/**
 * loadExamples - every example with its header block.
 * @returns {{dir: string, examples: object[]}} examples as normalizeIndex() gives them plus
 *   "block" (the file's text).
 * @throws {Error} naming the folder when index.json or a file it lists cannot be read: the
 *   examples are the one source of truth, so their absence is a failure, not a skip.
 */
export function loadExamples(dir = examplesDir()) {
  const indexFile = path.join(dir, 'index.json');
  let json;
  try {
    json = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the example index ${indexFile} (made by tests/integration/test_badge_examples.py): ${e.message}`);
  }
  const examples = normalizeIndex(json).map((ex) => ({ ...ex, block: fs.readFileSync(path.join(dir, ex.file), 'utf8') }));
  if (examples.length === 0) throw new Error(`${indexFile} lists no examples`);
  return { dir, examples };
}
