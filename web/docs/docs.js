// The API's documentation viewer: reads /openapi.json (the contract the
// server serves) and shows its operations, parameters, bodies, responses and
// schemas. Everything taken from the document is written as text
// (textContent), never parsed as HTML; the page runs under a CSP that allows
// no inline script or style.

import { el } from '/js/dom.js';

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'];
// How deep a schema's references are expanded inline before they are only linked.
const MAX_DEPTH = 3;

let spec = {};

/** An id that is safe in a fragment: letters, digits, `-` and `_`. */
function slug(text) {
  return String(text).replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
}

function operationID(method, path, operation) {
  return 'op-' + slug(operation.operationId || `${method}-${path}`);
}

/** Prose with `code` and **bold**, paragraph by paragraph, as text nodes. */
function prose(text, className = 'prose') {
  const box = el('div', { className });
  if (!text) return box;
  for (const paragraph of String(text).split(/\n{2,}/)) {
    const p = el('p');
    for (const piece of paragraph.split(/(`[^`]+`|\*\*[^*]+\*\*)/)) {
      if (!piece) continue;
      if (piece.startsWith('`') && piece.endsWith('`') && piece.length > 1) {
        p.append(el('code', { text: piece.slice(1, -1) }));
      } else if (piece.startsWith('**') && piece.endsWith('**') && piece.length > 3) {
        p.append(el('strong', { text: piece.slice(2, -2) }));
      } else {
        p.append(document.createTextNode(piece));
      }
    }
    box.append(p);
  }
  return box;
}

/** Follows a local `$ref` (`#/components/...`); anything else is returned as it is. */
function resolve(value) {
  let current = value;
  for (let hops = 0; current && typeof current === 'object' && typeof current.$ref === 'string' && hops < 10; hops++) {
    const ref = current.$ref;
    if (!ref.startsWith('#/')) return current;
    let target = spec;
    for (const key of ref.slice(2).split('/')) {
      const name = key.replace(/~1/g, '/').replace(/~0/g, '~');
      target = target && typeof target === 'object' ? target[name] : undefined;
    }
    if (target === undefined) return {};
    current = target;
  }
  return current || {};
}

function refName(ref) {
  return ref.split('/').pop();
}

/** A short label for a schema's type: `string (uuid)`, `array of Message`, `"Bearer"`, `queued | ocr | null`. */
function typeLabel(schema) {
  if (!schema || typeof schema !== 'object') return 'any';
  if (schema.$ref) return refName(schema.$ref);
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  const variants = schema.oneOf || schema.anyOf;
  if (Array.isArray(variants)) return variants.map(typeLabel).join(' | ');
  let types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length === 0) types = schema.properties ? ['object'] : ['any'];
  const label = types.map((type) => {
    if (type === 'array') return `array of ${typeLabel(schema.items)}`;
    if (type === 'string' && schema.contentMediaType === 'application/octet-stream') return 'file (bytes)';
    if (type === 'string' && schema.contentMediaType) return `string of ${schema.contentMediaType}`;
    if (schema.format && type !== 'null') return `${type} (${schema.format})`;
    return type;
  });
  return label.join(' | ');
}

/** Limits and defaults of a schema, as short phrases. */
function constraints(schema) {
  const out = [];
  const add = (key, phrase) => { if (schema[key] !== undefined) out.push(`${phrase} ${typeof schema[key] === 'string' ? schema[key] : JSON.stringify(schema[key])}`); };
  add('minLength', 'min length');
  add('maxLength', 'max length');
  add('minimum', 'min');
  add('maximum', 'max');
  add('minItems', 'min items');
  add('maxItems', 'max items');
  add('pattern', 'pattern');
  add('default', 'default');
  if (schema.additionalProperties === false) out.push('no other keys');
  return out;
}

/** The object (or array element) schema whose properties are worth listing under a name. */
function nested(schema) {
  const resolved = resolve(schema);
  if (resolved.properties) return schema;
  if (resolved.items) {
    const item = resolve(resolved.items);
    if (item.properties) return resolved.items;
  }
  const variants = resolved.oneOf || resolved.anyOf;
  if (Array.isArray(variants)) {
    const object = variants.find((variant) => resolve(variant).properties);
    if (object) return object;
  }
  return null;
}

/** A schema as a readable tree: a link for a named schema, its properties, their types and limits. */
function schemaView(schema, depth = 0, seen = new Set()) {
  const box = el('div', { className: 'schema' });
  if (!schema || typeof schema !== 'object') return box;
  let body = schema;
  if (schema.$ref) {
    const name = refName(schema.$ref);
    box.append(el('p', { className: 'schema-ref' }, 'Schema ', el('a', { href: `#schema-${slug(name)}`, text: name })));
    if (depth >= MAX_DEPTH || seen.has(schema.$ref)) return box;
    seen = new Set(seen).add(schema.$ref);
    body = resolve(schema);
  } else {
    box.append(el('p', { className: 'schema-type' }, el('span', { className: 'type', text: typeLabel(schema) })));
  }
  if (body.description && !schema.$ref) box.append(prose(body.description, 'prose small'));
  const limits = constraints(body);
  if (limits.length) box.append(el('p', { className: 'limits', text: limits.join(' · ') }));

  const object = resolve(body.items && !body.properties ? body.items : body);
  if (body.items && !body.properties && body.items.$ref) {
    box.append(el('p', { className: 'muted small' }, 'Each item: ', el('a', { href: `#schema-${slug(refName(body.items.$ref))}`, text: refName(body.items.$ref) })));
    if (depth >= MAX_DEPTH || seen.has(body.items.$ref)) return box;
    seen = new Set(seen).add(body.items.$ref);
  }
  if (object.properties) box.append(propertyList(object, depth, seen));
  return box;
}

function propertyList(schema, depth, seen) {
  const required = new Set(schema.required || []);
  const list = el('ul', { className: 'props' });
  for (const [name, property] of Object.entries(schema.properties)) {
    const resolved = resolve(property);
    const item = el('li');
    const line = el('div', { className: 'prop-line' },
      el('code', { className: 'prop-name', text: name }),
      el('span', { className: 'type', text: typeLabel(property) }),
      required.has(name) ? el('span', { className: 'badge required', text: 'required' }) : el('span', { className: 'badge optional', text: 'optional' }));
    item.append(line);
    const description = property.description || resolved.description;
    if (description) item.append(prose(description, 'prose small'));
    const limits = constraints(property.$ref ? resolved : property);
    if (limits.length) item.append(el('p', { className: 'limits', text: limits.join(' · ') }));
    const child = nested(property);
    if (child && depth + 1 < MAX_DEPTH) {
      const ref = child.$ref;
      if (!ref || !seen.has(ref)) {
        const next = ref ? new Set(seen).add(ref) : seen;
        const inner = resolve(child);
        if (inner.properties) item.append(propertyList(inner, depth + 1, next));
      }
    }
    list.append(item);
  }
  return list;
}

function example(value) {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return el('details', { className: 'example' }, el('summary', { text: 'Example' }), el('pre', {}, el('code', { text })));
}

function parametersTable(parameters) {
  const table = el('table', { className: 'params' });
  table.append(el('thead', {}, el('tr', {},
    el('th', { text: 'Name', attrs: { scope: 'col' } }),
    el('th', { text: 'In', attrs: { scope: 'col' } }),
    el('th', { text: 'Type', attrs: { scope: 'col' } }),
    el('th', { text: 'Description', attrs: { scope: 'col' } }))));
  const body = el('tbody');
  for (const raw of parameters) {
    const parameter = resolve(raw);
    const schema = parameter.schema || {};
    const limits = constraints(resolve(schema));
    const description = el('td', {}, prose(parameter.description || '', 'prose small'));
    if (limits.length) description.append(el('p', { className: 'limits', text: limits.join(' · ') }));
    body.append(el('tr', {},
      el('th', { attrs: { scope: 'row' } }, el('code', { text: parameter.name }),
        parameter.required ? el('span', { className: 'badge required', text: 'required' }) : null),
      el('td', { text: parameter.in }),
      el('td', {}, el('span', { className: 'type', text: typeLabel(schema) })),
      description));
  }
  table.append(body);
  return table;
}

function securityLabel(requirements) {
  if (!Array.isArray(requirements) || requirements.length === 0) return 'none';
  return requirements.map((requirement) => {
    const names = Object.keys(requirement);
    return names.length ? names.join(' and ') : 'none';
  }).join(' or ');
}

function contentView(content) {
  const box = el('div', { className: 'content' });
  for (const [mediaType, media] of Object.entries(content || {})) {
    box.append(el('p', { className: 'media' }, el('code', { text: mediaType })));
    if (media.schema) box.append(schemaView(media.schema));
    if (media.example !== undefined) box.append(example(media.example));
  }
  return box;
}

function responseView(status, raw) {
  const response = resolve(raw);
  const kind = /^[1-5]/.test(status) ? `s${status[0]}xx` : 'sother';
  const box = el('div', { className: `response ${kind}` });
  box.append(el('div', { className: 'response-head' },
    el('span', { className: 'status', text: status }),
    prose(response.description || '', 'prose')));
  const headers = Object.entries(response.headers || {});
  if (headers.length) {
    const list = el('ul', { className: 'props' });
    for (const [name, rawHeader] of headers) {
      const header = resolve(rawHeader);
      const item = el('li', {}, el('div', { className: 'prop-line' },
        el('span', { className: 'muted small', text: 'header' }),
        el('code', { className: 'prop-name', text: name }),
        el('span', { className: 'type', text: typeLabel(header.schema) }),
        header.required ? el('span', { className: 'badge required', text: 'always sent' }) : null));
      if (header.description) item.append(prose(header.description, 'prose small'));
      list.append(item);
    }
    box.append(list);
  }
  if (response.content) box.append(contentView(response.content));
  const links = Object.entries(response.links || {});
  if (links.length) {
    const list = el('ul', { className: 'links' });
    for (const [name, link] of links) {
      const values = Object.entries(link.parameters || {}).map(([key, value]) => `${key} = ${value}`);
      if (link.requestBody !== undefined) values.push(`body ${JSON.stringify(link.requestBody)}`);
      const target = link.operationId ? el('a', { href: `#op-${slug(link.operationId)}`, text: link.operationId }) : el('span', { text: name });
      list.append(el('li', {}, el('span', { className: 'muted small', text: 'then ' }), target,
        values.length ? el('code', { className: 'small', text: ` ${values.join(', ')}` }) : null));
    }
    box.append(list);
  }
  return box;
}

function operationView(method, path, item, operation) {
  const id = operationID(method, path, operation);
  const security = operation.security !== undefined ? operation.security : spec.security;
  const words = [method, path, operation.summary, operation.operationId, (operation.tags || []).join(' ')].join(' ').toLowerCase();
  const section = el('section', { className: 'op', id, attrs: { 'data-search': words } });
  const details = el('details');
  const summary = el('summary', {},
    el('span', { className: `method m-${slug(method)}`, text: method.toUpperCase() }),
    el('code', { className: 'path', text: path }),
    el('span', { className: 'op-summary', text: operation.summary || '' }),
    el('span', { className: 'auth', text: `auth: ${securityLabel(security)}` }));
  details.append(summary);

  const body = el('div', { className: 'op-body' });
  if (operation.description) body.append(prose(operation.description));
  const parameters = [...(item.parameters || []), ...(operation.parameters || [])];
  if (parameters.length) body.append(el('h4', { text: 'Parameters' }), parametersTable(parameters));
  if (operation.requestBody) {
    const requestBody = resolve(operation.requestBody);
    body.append(el('h4', { text: requestBody.required ? 'Request body (required)' : 'Request body' }));
    if (requestBody.description) body.append(prose(requestBody.description));
    body.append(contentView(requestBody.content));
  }
  body.append(el('h4', { text: 'Responses' }));
  for (const [status, response] of Object.entries(operation.responses || {})) body.append(responseView(status, response));
  body.append(el('p', { className: 'muted small' }, 'operationId ', el('code', { text: operation.operationId || '—' })));
  details.append(body);
  section.append(details);
  return section;
}

function render() {
  document.title = `${spec.info?.title || 'API'} — reference`;
  document.getElementById('title').textContent = spec.info?.title || 'API';
  document.getElementById('version').textContent = `version ${spec.info?.version ?? '?'} · OpenAPI ${spec.openapi ?? '?'}`;

  const intro = document.getElementById('intro');
  if (spec.info?.summary) intro.append(el('p', { className: 'lead', text: spec.info.summary }));
  if (spec.info?.description) intro.append(prose(spec.info.description));
  intro.hidden = false;

  // Operations by tag, in the document's tag order; untagged ones last.
  const groups = new Map((spec.tags || []).map((tag) => [tag.name, { tag, operations: [] }]));
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const name = (operation.tags && operation.tags[0]) || 'other';
      if (!groups.has(name)) groups.set(name, { tag: { name }, operations: [] });
      groups.get(name).operations.push({ method, path, item, operation });
    }
  }
  const operations = document.getElementById('operations');
  const toc = document.getElementById('toc');
  for (const { tag, operations: list } of groups.values()) {
    if (list.length === 0) continue;
    const group = el('section', { className: 'group', id: `tag-${slug(tag.name)}` }, el('h2', { text: tag.name }));
    if (tag.description) group.append(prose(tag.description, 'prose muted'));
    const tocList = el('ul');
    for (const { method, path, item, operation } of list) {
      group.append(operationView(method, path, item, operation));
      tocList.append(el('li', { attrs: { 'data-for': operationID(method, path, operation) } },
        el('a', { href: `#${operationID(method, path, operation)}` },
          el('span', { className: `method small m-${slug(method)}`, text: method.toUpperCase() }),
          el('span', { className: 'toc-path', text: path }))));
    }
    operations.append(group);
    toc.append(el('div', { className: 'toc-group' }, el('h3', { text: tag.name }), tocList));
  }
  toc.append(el('h3', { text: 'Reference' }), el('ul', {},
    el('li', {}, el('a', { href: '#security', text: 'Authentication' })),
    el('li', {}, el('a', { href: '#schemas', text: 'Schemas' }))));

  const schemes = Object.entries(spec.components?.securitySchemes || {});
  if (schemes.length) {
    const list = document.getElementById('security-list');
    for (const [name, scheme] of schemes) {
      const where = scheme.type === 'http' ? `HTTP ${scheme.scheme}${scheme.bearerFormat ? ` (${scheme.bearerFormat})` : ''}` :
        scheme.type === 'apiKey' ? `${scheme.in} ${scheme.name}` : scheme.type;
      list.append(el('div', { className: 'scheme', id: `scheme-${slug(name)}` },
        el('h3', {}, el('code', { text: name }), ' ', el('span', { className: 'type', text: where })),
        prose(scheme.description || '')));
    }
    document.getElementById('security').hidden = false;
  }

  const schemas = Object.entries(spec.components?.schemas || {});
  if (schemas.length) {
    const list = document.getElementById('schema-list');
    for (const [name, schema] of schemas) {
      const details = el('details', { className: 'schema-entry', id: `schema-${slug(name)}` },
        el('summary', {}, el('code', { text: name }), ' ', el('span', { className: 'type', text: typeLabel(schema) })));
      if (schema.description) details.append(prose(schema.description, 'prose small'));
      const view = schemaView({ ...schema, description: undefined }, 1);
      details.append(view);
      if (schema.example !== undefined) details.append(example(schema.example));
      list.append(details);
    }
    document.getElementById('schemas').hidden = false;
  }
  document.getElementById('status').hidden = true;
}

/** Opens the operation or schema the address names, and moves the focus there. */
function openTarget() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id) return;
  const target = document.getElementById(id);
  if (!target) return;
  const details = target.matches('details') ? target : target.querySelector(':scope > details');
  if (details) details.open = true;
  const focusable = details ? details.querySelector('summary') : target;
  if (focusable) {
    if (!focusable.matches('summary, a, button, input')) focusable.setAttribute('tabindex', '-1');
    focusable.focus();
    target.scrollIntoView({ block: 'start' });
  }
}

function applyFilter() {
  const words = document.getElementById('filter').value.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  let total = 0;
  for (const section of document.querySelectorAll('section.op')) {
    total += 1;
    const match = words.every((word) => section.dataset.search.includes(word));
    section.hidden = !match;
    if (match) shown += 1;
    const entry = document.querySelector(`#toc li[data-for="${section.id}"]`);
    if (entry) entry.hidden = !match;
  }
  for (const group of document.querySelectorAll('section.group')) {
    group.hidden = !group.querySelector('section.op:not([hidden])');
  }
  for (const group of document.querySelectorAll('#toc .toc-group')) {
    group.hidden = !group.querySelector('li[data-for]:not([hidden])');
  }
  document.getElementById('filter-count').textContent = words.length ? `${shown} of ${total} operations` : '';
}

async function main() {
  const status = document.getElementById('status');
  try {
    const response = await fetch('/openapi.json', { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    spec = await response.json();
  } catch (error) {
    status.textContent = `The API description (/openapi.json) could not be loaded: ${error.message}`;
    status.classList.add('error');
    return;
  }
  render();
  document.getElementById('filter').addEventListener('input', applyFilter);
  window.addEventListener('hashchange', openTarget);
  openTarget();
}

main();
