// The AsyncAPI reader: renders /asyncapi.json (channels, operations, message schemas)
// with the DOM alone. No framework, nothing fetched from elsewhere; text is set as text.

const DIRECTION = { receive: "client → gateway", send: "gateway → client" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- references -----------------------------------------------------------------------------

function resolve(doc, ref) {
  if (!ref.startsWith("#/")) throw new Error(`not a local reference: ${ref}`);
  let node = doc;
  for (const raw of ref.slice(2).split("/")) {
    const part = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (node === null || typeof node !== "object" || !(part in node)) {
      throw new Error(`unresolved reference: ${ref}`);
    }
    node = node[part];
  }
  return node;
}

function deref(doc, node) {
  let seen = 0;
  while (node && typeof node === "object" && typeof node.$ref === "string") {
    node = resolve(doc, node.$ref);
    if (++seen > 20) throw new Error("a reference loop");
  }
  return node;
}

// The component key a reference ends at ("#/channels/doctor/messages/Offer" -> "Offer").
function componentKey(doc, node) {
  let key = null;
  while (node && typeof node === "object" && typeof node.$ref === "string") {
    key = node.$ref.split("/").pop();
    node = resolve(doc, node.$ref);
  }
  return key;
}

// -- a little Markdown: headings, lists, paragraphs, `code` and **bold** ---------------------

function inline(text) {
  const out = [];
  const pattern = /`([^`]+)`|\*\*([^*]+)\*\*/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) out.push(text.slice(last, match.index));
    out.push(match[1] !== undefined ? el("code", {}, match[1]) : el("strong", {}, match[2]));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function markdown(text) {
  const fragment = document.createDocumentFragment();
  let paragraph = [];
  let list = null;
  const flush = () => {
    if (paragraph.length) fragment.append(el("p", {}, inline(paragraph.join(" "))));
    paragraph = [];
  };
  for (const line of (text || "").split("\n")) {
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const item = /^\s*[-*]\s+(.*)$/.exec(line);
    if (heading) {
      flush();
      list = null;
      fragment.append(el("h4", {}, inline(heading[2])));
    } else if (item) {
      flush();
      if (!list) {
        list = el("ul");
        fragment.append(list);
      }
      list.append(el("li", {}, inline(item[1])));
    } else if (!line.trim()) {
      flush();
      list = null;
    } else if (list && /^\s+/.test(line)) {
      list.lastChild.append(" ", ...inline(line.trim()));
    } else {
      list = null;
      paragraph.push(line.trim());
    }
  }
  flush();
  return fragment;
}

// -- schemas --------------------------------------------------------------------------------

function typeOf(schema) {
  if (!schema || typeof schema !== "object") return "any";
  if ("const" in schema) return JSON.stringify(schema.const);
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  return (types.length ? types : ["any"])
    .map((t) => {
      if (t !== "array" || !schema.items) return t;
      const inner = schema.items.type === "array" ? `[${typeOf(schema.items.items)}, …]` : typeOf(schema.items);
      return `array of ${inner}`;
    })
    .join(" | ");
}

function constraints(schema) {
  const out = [];
  const show = (value) => JSON.stringify(value);
  if (Array.isArray(schema.enum)) out.push(`one of ${schema.enum.map(show).join(", ")}`);
  if (schema.format) out.push(`format ${schema.format}`);
  if (schema.minimum !== undefined && schema.maximum !== undefined) out.push(`${schema.minimum} … ${schema.maximum}`);
  else if (schema.minimum !== undefined) out.push(`≥ ${schema.minimum}`);
  else if (schema.maximum !== undefined) out.push(`≤ ${schema.maximum}`);
  if (schema.minLength !== undefined) out.push(`at least ${schema.minLength} characters`);
  if (schema.maxLength !== undefined) out.push(`at most ${schema.maxLength} characters`);
  if (schema.minItems !== undefined) out.push(`at least ${schema.minItems} items`);
  if (schema.maxItems !== undefined) out.push(`at most ${schema.maxItems} items`);
  if (schema.pattern) out.push(`pattern ${schema.pattern}`);
  if (schema.default !== undefined) out.push(`default ${show(schema.default)}`);
  return out;
}

function schemaRows(doc, schema, prefix, depth, rows) {
  schema = deref(doc, schema);
  const required = new Set(schema.required || []);
  for (const [name, raw] of Object.entries(schema.properties || {})) {
    const property = deref(doc, raw);
    const notes = constraints(property).map((text) => el("span", { class: "constraint" }, text));
    rows.push(
      el(
        "tr",
        {},
        el("td", { class: "name" }, el("span", { class: `depth${Math.min(depth, 3)}` }, prefix + name)),
        el("td", { class: "type" }, typeOf(property)),
        el("td", { class: "req" }, required.has(name) ? "required" : ""),
        el("td", {}, inline(property.description || ""), notes),
      ),
    );
    const items = property.items ? deref(doc, property.items) : null;
    if (property.properties) schemaRows(doc, property, `${prefix}${name}.`, depth + 1, rows);
    else if (items && items.properties) schemaRows(doc, items, `${prefix}${name}[].`, depth + 1, rows);
  }
  return rows;
}

function schemaTable(doc, schema) {
  schema = deref(doc, schema);
  const rows = schemaRows(doc, schema, "", 0, []);
  const table = el(
    "table",
    { class: "schema" },
    el("thead", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "type"), el("th", {}, ""), el("th", {}, "meaning"))),
    el("tbody", {}, rows),
  );
  const notes = [];
  if (schema.if && schema.then && schema.then.required) {
    const when = Object.entries(schema.if.properties || {})
      .map(([name, s]) => `${name} is ${JSON.stringify(s.const)}`)
      .join(" and ");
    notes.push(el("p", { class: "muted" }, `When ${when}: ${schema.then.required.join(", ")} required.`));
  }
  notes.push(
    el(
      "p",
      { class: "muted" },
      schema.additionalProperties === false ? "No other fields." : "Other fields are allowed (and ignored).",
    ),
  );
  return el("div", {}, table, notes);
}

// -- the document -----------------------------------------------------------------------------

function serverUrl(server) {
  let host = server.host || "";
  for (const [name, variable] of Object.entries(server.variables || {})) {
    let value = variable.default ?? `{${name}}`;
    if (name === "host") value = location.hostname || value; // the engine these pages came from
    host = host.replaceAll(`{${name}}`, value);
  }
  return `${server.protocol}://${host}${server.pathname || ""}`;
}

function overview(doc) {
  const info = doc.info || {};
  const section = el("section", { id: "overview" }, el("h1", {}, info.title || "AsyncAPI document"));
  section.append(
    el(
      "p",
      { class: "muted" },
      `version ${info.version} · AsyncAPI ${doc.asyncapi} · content type ${doc.defaultContentType || "?"}`,
    ),
  );
  section.append(markdown(info.description));
  const servers = Object.entries(doc.servers || {});
  if (servers.length) {
    section.append(el("h3", {}, "Servers"));
    for (const [name, server] of servers) {
      const block = el("div", { class: "card-block", id: `server-${name}` });
      block.append(el("div", { class: "address" }, serverUrl(server)));
      block.append(el("p", { class: "muted" }, `${name}: ${server.host} (${server.protocol})`));
      block.append(markdown(server.description));
      for (const [variable, about] of Object.entries(server.variables || {})) {
        block.append(el("p", {}, el("code", {}, `{${variable}}`), ` default ${about.default}: `, inline(about.description || "")));
      }
      const schemes = (server.security || []).map((s) => deref(doc, s));
      if (schemes.length) {
        block.append(el("h4", {}, "Authentication (any one)"));
        block.append(el("ul", {}, schemes.map((s) => el("li", {}, `${s.type}${s.in ? ` in ${s.in} (${s.name})` : ""}${s.scheme ? ` ${s.scheme}` : ""}: `, inline(s.description || "")))));
      }
      section.append(block);
    }
  }
  return section;
}

function messageLink(doc, ref) {
  const key = componentKey(doc, ref);
  const message = deref(doc, ref);
  return el("a", { href: `#message-${key}` }, el("code", {}, message.name || key));
}

function channelSection(doc, name, channel, operations) {
  const section = el("section", { id: `channel-${name}`, class: "channel" });
  section.append(el("h2", {}, channel.title || name, " ", el("span", { class: "address" }, channel.address)));
  if (channel.summary) section.append(el("p", {}, inline(channel.summary)));
  section.append(markdown(channel.description));
  const parameters = Object.entries(channel.parameters || {});
  if (parameters.length) {
    section.append(el("h4", {}, "Parameters"));
    section.append(el("ul", {}, parameters.map(([p, about]) => el("li", {}, el("code", {}, `{${p}}`), ": ", inline(about.description || "")))));
  }
  const ws = (channel.bindings || {}).ws;
  if (ws && ws.query) {
    section.append(el("h4", {}, "Query (the handshake)"));
    section.append(schemaTable(doc, ws.query));
  }
  if (ws && ws.headers) {
    section.append(el("h4", {}, "Headers (the handshake)"));
    section.append(schemaTable(doc, ws.headers));
  }
  const mine = operations.filter(([, op]) => deref(doc, op.channel) === channel);
  const received = mine.filter(([, op]) => op.action === "receive");
  const sent = mine.filter(([, op]) => op.action === "send");
  if (received.length) {
    section.append(el("h3", {}, "The client sends ", el("span", { class: "chip in" }, DIRECTION.receive)));
    const rows = received.map(([id, op]) =>
      el(
        "tr",
        { id: `operation-${id}` },
        el("td", {}, op.messages.map((m) => messageLink(doc, m))),
        el("td", {}, inline(op.summary || op.title || "")),
        el("td", {}, (op.reply ? op.reply.messages : []).flatMap((m, i) => (i ? [" ", messageLink(doc, m)] : [messageLink(doc, m)]))),
      ),
    );
    section.append(
      el("table", { class: "ops" }, el("thead", {}, el("tr", {}, el("th", {}, "message"), el("th", {}, "what it does"), el("th", {}, "answered by"))), el("tbody", {}, rows)),
    );
  }
  if (sent.length) {
    section.append(el("h3", {}, "The gateway sends ", el("span", { class: "chip out" }, DIRECTION.send)));
    const rows = sent.map(([id, op]) =>
      el(
        "tr",
        { id: `operation-${id}` },
        el("td", {}, op.title || id),
        el("td", {}, inline(op.summary || "")),
        el("td", {}, op.messages.flatMap((m, i) => (i ? [" ", messageLink(doc, m)] : [messageLink(doc, m)]))),
      ),
    );
    section.append(
      el("table", { class: "ops" }, el("thead", {}, el("tr", {}, el("th", {}, "operation"), el("th", {}, "when"), el("th", {}, "messages"))), el("tbody", {}, rows)),
    );
  }
  return section;
}

// Where each component message is used: [channel name, "receive" | "send"].
function usage(doc, operations) {
  const used = new Map();
  const add = (channelRef, action, messageRef) => {
    const key = componentKey(doc, messageRef);
    const channel = channelRef.$ref.split("/").pop();
    const list = used.get(key) || [];
    if (!list.some(([c, a]) => c === channel && a === action)) list.push([channel, action]);
    used.set(key, list);
  };
  for (const [, op] of operations) {
    for (const m of op.messages || []) add(op.channel, op.action, m);
    if (op.reply) for (const m of op.reply.messages || []) add(op.reply.channel, op.action === "receive" ? "send" : "receive", m);
  }
  return used;
}

function messageSection(doc, key, message, used) {
  const section = el("section", { id: `message-${key}`, class: "message", "data-name": message.name || key });
  const places = used.get(key) || [];
  section.append(
    el(
      "h3",
      {},
      el("code", {}, message.name || key),
      " ",
      places.map(([channel, action]) => el("span", { class: `chip ${action === "receive" ? "in" : "out"}` }, `${channel}: ${DIRECTION[action]}`)),
      (message.tags || []).map((t) => el("span", { class: "chip" }, t.name)),
    ),
  );
  if (message.summary) section.append(el("p", {}, inline(message.summary)));
  if (message.correlationId) {
    section.append(el("p", { class: "muted" }, "Correlation: ", el("code", {}, message.correlationId.location), " — ", inline(message.correlationId.description || "")));
  }
  section.append(schemaTable(doc, message.payload));
  for (const example of message.examples || []) {
    section.append(el("pre", {}, el("code", {}, JSON.stringify(example.payload, null, 2))));
  }
  return section;
}

function otherSchemas(doc, messages) {
  const payloads = new Set(messages.map(([, m]) => componentKey(doc, m.payload)));
  const others = Object.entries((doc.components || {}).schemas || {}).filter(([key]) => !payloads.has(key));
  if (!others.length) return null;
  const section = el("section", { id: "schemas" }, el("h2", {}, "Other schemas"));
  for (const [key, schema] of others) {
    section.append(el("h3", { id: `schema-${key}` }, el("code", {}, key), " ", schema.title || ""));
    if (schema.description) section.append(el("p", {}, inline(schema.description)));
    section.append(schemaTable(doc, schema));
    for (const example of schema.examples || []) section.append(el("pre", {}, el("code", {}, JSON.stringify(example, null, 2))));
  }
  return section;
}

function toc(doc, channels, messages, used) {
  const nav = document.getElementById("toc");
  nav.append(el("h4", {}, "Overview"), el("ul", {}, el("li", {}, el("a", { href: "#overview" }, "Envelope, times, resume, limits"))));
  nav.append(el("h4", {}, "Channels"));
  nav.append(el("ul", {}, channels.map(([name, c]) => el("li", {}, el("a", { href: `#channel-${name}` }, c.address)))));
  nav.append(el("h4", {}, "Messages"));
  const items = messages.map(([key, m]) => {
    const places = used.get(key) || [];
    const arrow = [...new Set(places.map(([, a]) => (a === "receive" ? "in" : "out")))].join("/");
    return el("li", { "data-name": m.name || key }, el("a", { href: `#message-${key}` }, m.name || key, el("span", { class: "dir" }, `${key} · ${arrow}`)));
  });
  nav.append(el("ul", { id: "toc-messages" }, items));
  if ((doc.components || {}).schemas) nav.append(el("h4", {}, el("a", { href: "#schemas" }, "Other schemas")));
  const filter = document.getElementById("filter");
  filter.addEventListener("input", () => {
    const needle = filter.value.trim().toLowerCase();
    for (const node of document.querySelectorAll("#toc-messages li, section.message")) {
      const text = `${node.dataset.name} ${node.id || ""} ${node.textContent}`.toLowerCase();
      node.hidden = Boolean(needle) && !text.includes(needle);
    }
  });
}

async function main() {
  const root = document.getElementById("doc");
  let doc;
  try {
    const response = await fetch("/asyncapi.json", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`/asyncapi.json answered ${response.status}`);
    doc = await response.json();
  } catch (error) {
    root.replaceChildren(el("p", { class: "error-box" }, `The document could not be read: ${error.message}`));
    document.body.dataset.ready = "error";
    return;
  }
  const operations = Object.entries(doc.operations || {});
  const channels = Object.entries(doc.channels || {});
  const messages = Object.entries((doc.components || {}).messages || {});
  const used = usage(doc, operations);
  root.replaceChildren(overview(doc));
  for (const [name, channel] of channels) root.append(channelSection(doc, name, channel, operations));
  root.append(el("h2", { id: "messages" }, "Messages"));
  for (const [key, message] of messages) root.append(messageSection(doc, key, message, used));
  const others = otherSchemas(doc, messages);
  if (others) root.append(others);
  toc(doc, channels, messages, used);
  document.title = `${doc.info.title} ${doc.info.version} — AsyncAPI`;
  document.body.dataset.ready = "true";
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

main();
