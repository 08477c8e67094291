// Unit tests of js/push.js that need no browser: the VAPID key's base64url decoding.
//   node --test tests/js/*.test.mjs

import './setup.mjs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base64UrlBytes } from '../../src/parlour/web/js/push.js';

test('base64url (no padding, - and _) decodes to the key bytes', () => {
  assert.deepEqual([...base64UrlBytes('AQID_-8')], [1, 2, 3, 0xff, 0xef]);
  assert.deepEqual([...base64UrlBytes('AQID')], [1, 2, 3]);
  const key = new Uint8Array(65).map((_, i) => (i * 37) % 256);
  const text = Buffer.from(key).toString('base64url');
  assert.ok(!text.includes('='));
  assert.deepEqual(base64UrlBytes(text), key);
});
