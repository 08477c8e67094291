// The link preview cards (src/parlour/web/js/previews.js) and the BOT badge (dom.js), built on tests/js/fakedom.mjs: text
// only (never innerHTML), http(s) links only, the picture only from https, safe link attributes.
//   node --test tests/js/

import './setup.mjs';
import { FakeElement } from './fakedom.mjs';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { previewCard, previewCards, webUrl } from '../../src/parlour/web/js/previews.js';
import { botBadge, continuesRun } from '../../src/parlour/web/js/dom.js';

const PAGE = {
  url: 'https://example.org/post/1', title: 'Launch day', description: 'We shipped.', image_url: 'https://example.org/og.png',
};

describe('previewCard', () => {
  test('the title is a link that opens apart, without referrer or follow', () => {
    const card = previewCard(PAGE);
    assert.ok(card instanceof FakeElement);
    const a = card.find('a');
    assert.equal(a.getAttribute('href'), 'https://example.org/post/1');
    assert.equal(a.getAttribute('target'), '_blank');
    assert.equal(a.getAttribute('rel'), 'noopener noreferrer nofollow');
    assert.equal(a.textContent, 'Launch day');
    assert.equal(card.find('.link-desc').textContent, 'We shipped.');
    assert.equal(card.find('.link-site').textContent, 'example.org');
  });

  test('markup in a title or description stays text (innerHTML would throw here)', () => {
    const card = previewCard({ ...PAGE, title: '<img src=x onerror=alert(1)>', description: '<b>bold</b> &amp; <script>x()</script>' });
    assert.equal(card.find('a').textContent, '<img src=x onerror=alert(1)>');
    assert.equal(card.find('.link-desc').textContent, '<b>bold</b> &amp; <script>x()</script>');
    assert.equal(card.findAll('img').length, 1); // only the preview's own picture
    assert.equal(card.findAll('script').length, 0);
    assert.equal(card.findAll('b').length, 0);
  });

  test('the picture: https only, lazy, no referrer, empty alt', () => {
    const img = previewCard(PAGE).find('img');
    assert.equal(img.getAttribute('src'), 'https://example.org/og.png');
    assert.equal(img.getAttribute('loading'), 'lazy');
    assert.equal(img.getAttribute('referrerpolicy'), 'no-referrer');
    assert.equal(img.getAttribute('alt'), '');
    for (const image_url of [null, undefined, '', 'http://example.org/og.png', 'javascript:alert(1)', 'data:image/png;base64,AA', '/og.png', 'not a url']) {
      const card = previewCard({ ...PAGE, image_url });
      assert.equal(card.findAll('img').length, 0, String(image_url));
      assert.ok(!card.className.includes('has-image'));
    }
  });

  test('no title: the host is the link text; no description: no paragraph', () => {
    const card = previewCard({ url: 'http://intranet.example/x', title: null, description: null, image_url: null });
    assert.equal(card.find('a').textContent, 'intranet.example');
    assert.equal(card.find('.link-desc'), null);
  });

  test('a link that is not http(s) gets no card', () => {
    for (const url of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'file:///etc/passwd', '//example.org', '', null]) {
      assert.equal(previewCard({ ...PAGE, url }), null, String(url));
    }
    assert.equal(webUrl('ftp://example.org/'), null);
    assert.equal(webUrl('HTTPS://Example.org/a'), 'https://example.org/a');
  });

  test('a long description is cut', () => {
    const card = previewCard({ ...PAGE, description: 'word '.repeat(200) });
    const text = card.find('.link-desc').textContent;
    assert.ok(text.length <= 300 && text.endsWith('…'), text.length);
  });
});

describe('previewCards', () => {
  test('one group of up to three cards; none for no previews or a deleted message', () => {
    const many = [1, 2, 3, 4].map((i) => ({ ...PAGE, url: `https://example.org/${i}` }));
    const group = previewCards({ previews: many });
    assert.equal(group.getAttribute('aria-label'), 'Link previews');
    assert.equal(group.findAll('.link-card').length, 3);
    assert.equal(previewCards({ previews: [] }), null);
    assert.equal(previewCards({ previews: null }), null);
    assert.equal(previewCards({}), null);
    assert.equal(previewCards({ previews: many, deleted: true }), null);
    assert.equal(previewCards({ previews: [{ ...PAGE, url: 'javascript:x' }] }), null);
  });
});

describe('bots in messages', () => {
  test('BOT for a bot only, named "bot" for screen readers', () => {
    const badge = botBadge({ is_bot: true });
    assert.equal(badge.textContent, 'BOT');
    assert.equal(badge.getAttribute('aria-label'), 'bot');
    assert.equal(botBadge({ is_bot: false }), null);
    assert.equal(botBadge(null), null);
  });

  test('one webhook posting under two labels makes two runs', () => {
    const at = (s) => new Date(Date.parse('2025-01-01T10:00:00Z') + s * 1000).toISOString();
    const hook = { id: 'b1', is_bot: true };
    const a = { author: hook, label: 'CI', created_at: at(0) };
    assert.equal(continuesRun(a, { author: hook, label: 'CI', created_at: at(30) }), true);
    assert.equal(continuesRun(a, { author: hook, label: 'Alerts', created_at: at(30) }), false);
    assert.equal(continuesRun(a, { author: hook, label: null, created_at: at(30) }), false);
  });
});
