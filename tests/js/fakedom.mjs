// A minimal DOM for unit tests of modules that build elements with dom.js's h() (no jsdom in
// this repository): elements with attributes, class, listeners, children and textContent, and
// text nodes. Setting innerHTML throws, so a test proves a builder never parses markup.
// Import this before any module of src/parlour/web/js.

class FakeNode {
  constructor() { this.parentNode = null; this.childNodes = []; }
  get textContent() { return this.childNodes.map((c) => c.textContent).join(''); }
  append(...kids) {
    for (const kid of kids) {
      const node = kid instanceof FakeNode ? kid : new FakeText(String(kid));
      node.parentNode?.childNodes.splice(node.parentNode.childNodes.indexOf(node), 1);
      node.parentNode = this;
      this.childNodes.push(node);
    }
  }
  remove() {
    if (!this.parentNode) return;
    this.parentNode.childNodes.splice(this.parentNode.childNodes.indexOf(this), 1);
    this.parentNode = null;
  }
}

class FakeText extends FakeNode {
  constructor(text) { super(); this.data = text; }
  get textContent() { return this.data; }
}

export class FakeElement extends FakeNode {
  constructor(tag) {
    super();
    this.tagName = tag.toUpperCase();
    this.attributes = new Map();
    this.listeners = new Map();
  }
  get children() { return this.childNodes.filter((c) => c instanceof FakeElement); }
  get className() { return this.getAttribute('class') || ''; }
  set className(v) { this.setAttribute('class', v); }
  set innerHTML(_) { throw new Error('innerHTML used'); }
  setAttribute(k, v) { this.attributes.set(k, String(v)); }
  getAttribute(k) { return this.attributes.has(k) ? this.attributes.get(k) : null; }
  hasAttribute(k) { return this.attributes.has(k); }
  addEventListener(type, fn) { this.listeners.set(type, fn); }
  /** Every element below this one (depth first) whose tag is `tag` or whose class list has `.cls`. */
  findAll(sel) {
    const out = [];
    const match = (el) => (sel.startsWith('.') ? el.className.split(/\s+/).includes(sel.slice(1)) : el.tagName === sel.toUpperCase());
    const walk = (el) => { for (const c of el.children) { if (match(c)) out.push(c); walk(c); } };
    walk(this);
    return out;
  }
  find(sel) { return this.findAll(sel)[0] || null; }
}

const cookie = globalThis.document?.cookie ?? '';
Object.defineProperty(globalThis, 'Node', { value: FakeNode, configurable: true, writable: true });
Object.defineProperty(globalThis, 'document', {
  value: { cookie, createElement: (tag) => new FakeElement(tag), createTextNode: (text) => new FakeText(text) },
  configurable: true, writable: true,
});
