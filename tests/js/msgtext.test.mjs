// Unit tests of message previews (src/parlour/web/js/msgtext.js) that need no DOM: system lines,
// deleted messages, Markdown stripped for messages not stored yet, attachments.
//   node --test tests/js/*.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messagePreview, stripMarkdown } from '../../src/parlour/web/js/msgtext.js';

const ADA = { id: 'u1', full_name: 'Ada Lovelace' };

test('a system line previews as "<author> <content>"', () => {
  const m = { id: 'm1', author: ADA, system: { kind: 'renamed' }, content: 'renamed the group to Launch', html: '' };
  assert.equal(messagePreview(m), 'Ada Lovelace renamed the group to Launch');
  assert.equal(messagePreview({ ...m, content: 'added Grace Hopper' }), 'Ada Lovelace added Grace Hopper');
  assert.equal(messagePreview({ ...m, author: null }), 'Someone renamed the group to Launch');
});

test('an ordinary message is not prefixed with its author', () => {
  assert.equal(messagePreview({ id: 'm2', author: ADA, system: null, content: '**launch** now' }), 'launch now');
});

test('deleted messages, attachments and empty messages', () => {
  assert.equal(messagePreview({ deleted: true, content: 'x' }), 'Message deleted');
  const atts = [{ filename: 'plan.pdf' }, { filename: 'b.png' }];
  assert.equal(messagePreview({ content: '', attachments: atts }), 'Attachment: plan.pdf and 1 more');
  assert.equal(messagePreview(null), '');
  assert.equal(stripMarkdown('[docs](https://x) and `code`'), 'docs and code');
});
