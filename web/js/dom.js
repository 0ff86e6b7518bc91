// The one way the app and the API reference build elements: node by node,
// text as text nodes. Nothing here parses markup, so whatever a user, a file
// or the API description wrote is shown as written, under a CSP that allows no
// inline script or style.

export const $ = (id) => document.getElementById(id);

/**
 * An element. `options` is a class name (a string, or null for none) or
 * { className, id, href, text, attrs }; each child is a node or text (null,
 * undefined, false and '' are skipped).
 *
 *   el('li', 'conversation')
 *   el('span', 'attachment-name', file.filename)
 *   el('a', { href: '#schemas', text: 'Schemas' })
 */
export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  const { className, id, href, text, attrs } =
    typeof options === 'string' || options === null ? { className: options } : options;
  if (className) node.className = className;
  if (id) node.id = id;
  // Only fragments a page builds itself: never an address taken from data.
  if (href) node.setAttribute('href', href);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false && child !== '') node.append(child);
  }
  return node;
}

const ICONS = {
  file: ['M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z', 'M14 2v6h6'],
  pencil: ['M17 3a2.85 2.85 0 1 1 4 4L7.5 20.5 2 22l1.5-5.5Z'],
  trash: ['M3 6h18', 'M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6', 'M10 11v6', 'M14 11v6', 'M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2'],
  check: ['M20 6 9 17l-5-5'],
  cross: ['M18 6 6 18', 'M6 6l12 12'],
};

/** A small line icon (SVG built node by node: no markup is parsed). */
export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  for (const d of ICONS[name]) {
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}
