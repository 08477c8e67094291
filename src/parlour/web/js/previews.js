// Link preview cards under a message (`message.previews`, filled by the server after the send and
// announced with `message.updated`). Everything in a preview came from a page someone linked, so
// it is only ever text (h() makes text nodes; never innerHTML), the link must be http(s), and the
// picture is shown only from an https URL, lazily, without a referrer (the server already
// refused addresses inside the network; a plain http picture would be mixed content anyway).

import { h } from './dom.js';

/** The URL when it is an absolute http(s) URL, else null (javascript:, data:, relative, junk). */
export function webUrl(value, schemes = ['http:', 'https:']) {
  if (typeof value !== 'string' || !value) return null;
  try {
    const u = new URL(value);
    return schemes.includes(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1).trimEnd()}…` : text);

/**
 * One card, or null when the preview has no usable link. Its title (else the link's host) is the
 * link; the description is cut to a few lines' worth; the image only when image_url is https.
 */
export function previewCard(p) {
  const href = webUrl(p?.url);
  if (!href) return null;
  const host = new URL(href).host;
  const title = String(p.title || '').trim() || host;
  const description = clip(String(p.description || '').replace(/\s+/g, ' ').trim(), 300);
  const image = webUrl(p.image_url, ['https:']);
  return h('div', { class: `link-card${image ? ' has-image' : ''}` },
    h('div', { class: 'link-card-text' },
      h('span', { class: 'link-site muted' }, host),
      h('a', { class: 'link-title', href, target: '_blank', rel: 'noopener noreferrer nofollow' }, clip(title, 200)),
      description ? h('p', { class: 'link-desc' }, description) : null),
    image ? h('img', { class: 'link-img', src: image, alt: '', loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer',
      onerror: (e) => e.currentTarget.remove() }) : null); // a broken picture leaves the text
}

/** The cards of a message's previews (at most 3; none for a deleted message), or null. */
export function previewCards(m) {
  if (m?.deleted || !Array.isArray(m?.previews)) return null;
  const cards = m.previews.slice(0, 3).map(previewCard).filter(Boolean);
  return cards.length ? h('div', { class: 'link-previews', role: 'group', 'aria-label': 'Link previews' }, cards) : null;
}
