// What a message says, as text: previews for the room list and pop-ups are derived from the
// server-sanitized `html` in an inert document (DOMParser runs no script and loads nothing, and
// the result only ever goes into textContent), so `**launch**` previews as "launch", mentions,
// links and code as their text. Also marks, in an inserted message body, the mentions that name me.

const BLOCKS = 'p,div,li,br,pre,blockquote,h1,h2,h3,h4,h5,h6,tr,td,th,hr,ul,ol,table';
const PREVIEW_CHARS = 140;
let parser = null;

/** Plain text of sanitized message html (whitespace collapsed). */
export function htmlText(html) {
  if (!html) return '';
  parser = parser || new DOMParser();
  const doc = parser.parseFromString(html, 'text/html');
  // Blocks and line breaks become spaces, so "<p>a</p><p>b</p>" reads "a b", not "ab".
  for (const el of doc.body.querySelectorAll(BLOCKS)) el.after(doc.createTextNode(' '));
  return (doc.body.textContent || '').replace(/\s+/g, ' ').trim();
}

/** Markdown source without its marks: the fallback for a message not stored yet (no html). */
export function stripMarkdown(src) {
  return String(src || '')
    .replace(/```[^\n]*\n?([\s\S]*?)```/g, '$1')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(^|[^\w*])[*_]([^*_\n]+)[*_](?=[^\w*]|$)/g, '$1$2')
    .replace(/~~(.+?)~~/g, '$1')
    .replace(/^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Plain-text preview of a message for lists and pop-ups (never rendered as HTML). */
export function messagePreview(m) {
  if (!m) return '';
  if (m.deleted) return 'Message deleted';
  // A membership line ("added Grace Hopper") reads with its author.
  if (m.system) return `${m.author?.full_name || 'Someone'} ${m.content || ''}`.trim();
  const text = m.html ? htmlText(m.html) : stripMarkdown(m.content);
  if (text) return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text;
  const atts = m.attachments || [];
  if (atts.length) return `Attachment: ${atts[0].filename}${atts.length > 1 ? ` and ${atts.length - 1} more` : ''}`;
  return '';
}

/** Marks the mentions of me in an inserted message body (class `mention-me`); true if any. */
export function markMentions(body, meId) {
  let any = false;
  if (!meId) return any;
  for (const el of body.querySelectorAll('span.mention[data-user-id]')) {
    if (el.dataset.userId !== meId) continue;
    el.classList.add('mention-me');
    any = true;
  }
  return any;
}
