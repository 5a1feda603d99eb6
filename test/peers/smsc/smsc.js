#!/usr/bin/env node
// Test SMSC for unspoof's SMPP client: the npm package `smpp` acting as the message centre.
// It accepts binds, logs every accepted submit_sm to a JSON Lines file (synchronously, before the
// response leaves), answers with message ids in a chosen format, sends delivery receipts and MO
// messages, and misbehaves on request (throttling, queue full, per-number failures, dropped
// connections, receipts before responses). Events go to stdout as JSON lines; control commands
// come on stdin. See README.md beside this file for the flags, and smpp/smsctest for the Go helper.
'use strict';

const fs = require('fs');
const readline = require('readline');
const smpp = require('smpp');

// The package decodes short_message into text by its own rules (and loses the raw bytes); the
// log needs the exact bytes, so submit_sm's short_message and the message_payload TLV are kept
// as Buffers. deliver_sm is always given Buffers, which its encoder passes through unchanged.
delete smpp.commands.submit_sm.params.short_message.filter;
delete smpp.tlvs.message_payload.filter;

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------

const USAGE = `usage: node smsc.js [flags]
  --port N                 listen on 127.0.0.1:N (0, the default, picks a free port)
  --system-id S            system_id a bind must present (default unspoof)
  --password P             password a bind must present (default secret)
  --log FILE               append one JSON line per accepted submit_sm
  --id-format hex|dec      message_id in submit_sm_resp (default hex: 8 upper-case hex digits)
  --id-start N             first message id is N+1 (default 41968, so the first hex id is 0000A3F1)
  --receipt-id-format same|dec|hex-lower   how receipts name the id (default same)
  --receipt-delay MS       delay before a delivery receipt (default 200)
  --receipt delivered|undeliverable|expired|rejected   default receipt outcome
  --receipt-rule SUFFIX=OUTCOME   outcome for destinations ending in SUFFIX (repeatable)
  --receipt-tlv=false      receipts carry the text only (no receipted_message_id/message_state)
  --receipt-first          send the receipt before the submit_sm_resp
  --throttle N             accept at most N submit_sm per rolling second; more get 0x58
  --queue-full-every K     every K-th submit_sm (past the throttle) gets 0x14
  --fail-rule SUFFIX=0xNN  submit_sm to destinations ending in SUFFIX get that status (repeatable)
  --drop-after N           destroy the client's socket once, after accepting the N-th submit_sm
  --mo-after N --mo-from NUMBER --mo-text TEXT   one MO after the N-th accepted submit_sm
  --enquire-link MS        send enquire_link to bound sessions every MS (default 0: never)
  --exit-on-eof            exit when stdin closes (the Go helper sets it so no peer outlives a test)
stdin: "drop" | "mo FROM TO TEXT..." | "stats"`;

const OUTCOMES = {
  delivered: { state: 2, stat: 'DELIVRD', err: '000', dlvrd: '001' },
  expired: { state: 3, stat: 'EXPIRED', err: '001', dlvrd: '000' },
  undeliverable: { state: 5, stat: 'UNDELIV', err: '001', dlvrd: '000' },
  rejected: { state: 8, stat: 'REJECTD', err: '001', dlvrd: '000' },
};

function die(msg) {
  process.stderr.write(`smsc.js: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parseFlags(argv) {
  const o = {
    port: 0, systemId: 'unspoof', password: 'secret', log: '',
    idFormat: 'hex', idStart: 41968, receiptIdFormat: 'same', receiptDelay: 200,
    receipt: 'delivered', receiptRules: [], receiptTlv: true, receiptFirst: false,
    throttle: 0, queueFullEvery: 0, failRules: [], dropAfter: 0,
    moAfter: 0, moFrom: '', moText: '', enquireLink: 0, exitOnEof: false,
  };
  const bools = { 'receipt-tlv': 'receiptTlv', 'receipt-first': 'receiptFirst', 'exit-on-eof': 'exitOnEof' };
  const ints = {
    'port': 'port', 'id-start': 'idStart', 'receipt-delay': 'receiptDelay', 'throttle': 'throttle',
    'queue-full-every': 'queueFullEvery', 'drop-after': 'dropAfter', 'mo-after': 'moAfter',
    'enquire-link': 'enquireLink',
  };
  const strs = {
    'system-id': 'systemId', 'password': 'password', 'log': 'log', 'id-format': 'idFormat',
    'receipt-id-format': 'receiptIdFormat', 'receipt': 'receipt', 'mo-from': 'moFrom', 'mo-text': 'moText',
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    }
    if (!arg.startsWith('--')) die(`unexpected argument ${JSON.stringify(arg)}`);
    arg = arg.slice(2);
    let value = null;
    const eq = arg.indexOf('=');
    if (eq >= 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg in bools) {
      if (value === null || value === 'true' || value === '1') o[bools[arg]] = true;
      else if (value === 'false' || value === '0') o[bools[arg]] = false;
      else die(`--${arg} takes true or false, not ${JSON.stringify(value)}`);
      continue;
    }
    if (!(arg in ints) && !(arg in strs) && arg !== 'receipt-rule' && arg !== 'fail-rule') die(`unknown flag --${arg}`);
    if (value === null) {
      if (i + 1 >= argv.length) die(`--${arg} needs a value`);
      value = argv[++i];
    }
    if (arg in ints) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) die(`--${arg} takes a whole number >= 0, not ${JSON.stringify(value)}`);
      o[ints[arg]] = n;
    } else if (arg in strs) {
      o[strs[arg]] = value;
    } else if (arg === 'receipt-rule' || arg === 'fail-rule') {
      const at = value.lastIndexOf('=');
      if (at < 0) die(`--${arg} takes SUFFIX=VALUE, not ${JSON.stringify(value)}`);
      const suffix = value.slice(0, at), v = value.slice(at + 1);
      if (arg === 'receipt-rule') {
        if (!(v in OUTCOMES)) die(`--receipt-rule outcome must be one of ${Object.keys(OUTCOMES).join('|')}`);
        o.receiptRules.push({ suffix, value: v });
      } else {
        const status = Number(v); // accepts 0x.. and decimal
        if (!Number.isInteger(status) || status <= 0 || status > 0xFFFFFFFF) die(`--fail-rule status must be a non-zero number, not ${JSON.stringify(v)}`);
        o.failRules.push({ suffix, value: status });
      }
    }
  }
  if (!['hex', 'dec'].includes(o.idFormat)) die('--id-format must be hex or dec');
  if (!['same', 'dec', 'hex-lower'].includes(o.receiptIdFormat)) die('--receipt-id-format must be same, dec or hex-lower');
  if (!(o.receipt in OUTCOMES)) die(`--receipt must be one of ${Object.keys(OUTCOMES).join('|')}`);
  if (o.moAfter > 0 && !o.moFrom) die('--mo-after needs --mo-from');
  // Longest suffix wins, so the order the rules were given in does not matter.
  o.receiptRules.sort((a, b) => b.suffix.length - a.suffix.length);
  o.failRules.sort((a, b) => b.suffix.length - a.suffix.length);
  return o;
}

const opt = parseFlags(process.argv.slice(2));

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

function emit(event, fields) {
  const o = { event, t: Date.now() };
  if (fields) Object.assign(o, fields);
  process.stdout.write(JSON.stringify(o) + '\n');
}

function warn(msg) {
  process.stderr.write(`smsc.js: ${msg}\n`);
}

const logFd = opt.log ? fs.openSync(opt.log, 'a') : -1;

// ---------------------------------------------------------------------------------------------
// Text: GSM 03.38 default alphabet (unpacked, one septet per octet), its extension table, UCS-2.
// ---------------------------------------------------------------------------------------------

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
// 0x1B escapes to the extension table; alone (at the end of a message) it shows as a space.
const GSM_EXT = { 0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\', 0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€' };
const GSM_ENC = new Map();
for (let i = 0; i < GSM_BASIC.length; i++) if (i !== 0x1B) GSM_ENC.set(GSM_BASIC[i], [i]);
for (const k of Object.keys(GSM_EXT)) GSM_ENC.set(GSM_EXT[k], [0x1B, Number(k)]);

function gsmDecode(buf) {
  let s = '';
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b > 0x7F) {
      s += '\uFFFD';
    } else if (b === 0x1B && i + 1 < buf.length) {
      const n = buf[++i];
      s += GSM_EXT[n] !== undefined ? GSM_EXT[n] : (n <= 0x7F ? GSM_BASIC[n] : '\uFFFD');
    } else {
      s += GSM_BASIC[b];
    }
  }
  return s;
}

function gsmEncode(text) {
  const out = [];
  for (const ch of text) {
    const e = GSM_ENC.get(ch);
    if (e) out.push(...e);
    else out.push(0x3F); // '?'
  }
  return Buffer.from(out);
}

function decodeText(dataCoding, buf) {
  switch (dataCoding) {
    case 0x00: return gsmDecode(buf);
    case 0x01: return buf.toString('latin1'); // IA5 (ASCII)
    case 0x03: return buf.toString('latin1');
    case 0x08: {
      if (buf.length % 2) return null;
      const sw = Buffer.from(buf); // UCS-2 big-endian -> utf16le for Node
      sw.swap16();
      return sw.toString('utf16le');
    }
    default: return null; // binary or a coding this peer does not know
  }
}

// splitUdh returns {udh: {ref,total,seq}|null, body}; udhi says whether esm_class has 0x40 set.
function splitUdh(buf, udhi) {
  if (!udhi || buf.length === 0) return { udh: null, body: buf };
  const udhl = buf[0];
  if (udhl + 1 > buf.length) return { udh: null, body: buf };
  let concat = null;
  for (let p = 1; p + 1 < udhl + 1;) {
    const iei = buf[p], len = buf[p + 1], d = p + 2;
    if (d + len > udhl + 1) break;
    if (iei === 0x00 && len === 3) concat = { ref: buf[d], total: buf[d + 1], seq: buf[d + 2] };
    else if (iei === 0x08 && len === 4) concat = { ref: buf.readUInt16BE(d), total: buf[d + 2], seq: buf[d + 3] };
    p = d + len;
  }
  return { udh: concat, body: buf.subarray(udhl + 1) };
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

const stats = {
  sessions: 0, bound: 0, binds: 0, bind_refused: 0, submits: 0, accepted: 0, throttled: 0,
  queue_full: 0, failed: 0, receipts_sent: 0, receipts_acked: 0, mo_sent: 0, deliver_nacked: 0,
  drops: 0, generic_nacks: 0,
};

const sessions = new Set();   // every open session state
const pending = new Map();    // system_id -> deliveries waiting for a receiver-capable bind
const lastSource = new Map(); // system_id -> source_addr (and ton/npi) of its last accepted submit
let nextSessionId = 0;
let lastId = opt.idStart;
let dropDone = false;
let moDone = false;
let stopping = false;

// Rolling one-second window of accepted submit_sm times, across all sessions.
let win = [];
let winHead = 0;
function throttled(now) {
  if (!opt.throttle) return false;
  while (winHead < win.length && win[winHead] <= now - 1000) winHead++;
  if (winHead > 4096 && winHead * 2 > win.length) {
    win = win.slice(winHead);
    winHead = 0;
  }
  return win.length - winHead >= opt.throttle;
}

function formatId(n) {
  return opt.idFormat === 'dec' ? String(n) : n.toString(16).toUpperCase().padStart(8, '0');
}

function receiptId(n, given) {
  switch (opt.receiptIdFormat) {
    case 'dec': return String(n);
    case 'hex-lower': return n.toString(16).padStart(8, '0');
    default: return given;
  }
}

function matchRule(rules, dest, fallback) {
  for (const r of rules) if (dest.endsWith(r.suffix)) return r.value;
  return fallback;
}

function smppDate(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes());
}

function canReceive(s) {
  return !s.closed && (s.bound === 'transceiver' || s.bound === 'receiver');
}

// ---------------------------------------------------------------------------------------------
// Deliveries (receipts and MO): to the preferred session if it can take them, else to another
// receiver-capable session of the same system_id, else held until one binds. A deliver_sm that
// is answered with an error, or left unanswered by a closing session, is tried again later
// (up to 3 times), as real message centres do.
// ---------------------------------------------------------------------------------------------

function deliver(item, preferred) {
  if (stopping) return;
  let target = preferred && canReceive(preferred) && preferred.systemId === item.systemId ? preferred : null;
  if (!target) {
    for (const s of sessions) if (canReceive(s) && s.systemId === item.systemId) { target = s; break; }
  }
  if (!target) {
    if (!pending.has(item.systemId)) pending.set(item.systemId, []);
    pending.get(item.systemId).push(item);
    return;
  }
  sendDeliver(target, item);
}

function sendDeliver(s, item) {
  const pdu = new smpp.PDU('deliver_sm', item.pdu);
  item.attempts++;
  const ok = s.session.send(pdu, (resp) => {
    s.outstanding.delete(pdu.sequence_number);
    if (resp.command_status === 0) {
      if (item.kind === 'receipt') stats.receipts_acked++;
      return;
    }
    stats.deliver_nacked++;
    retry(item, `deliver_sm answered 0x${resp.command_status.toString(16)}`);
  });
  if (!ok) {
    item.attempts--;
    if (!pending.has(item.systemId)) pending.set(item.systemId, []);
    pending.get(item.systemId).push(item);
    return;
  }
  s.outstanding.set(pdu.sequence_number, item);
  if (item.kind === 'receipt') stats.receipts_sent++;
  else {
    stats.mo_sent++;
    emit('mo_sent', { session: s.id, from: item.pdu.source_addr, to: item.pdu.destination_addr, reason: item.reason });
  }
}

function retry(item, why) {
  if (item.attempts >= 3) {
    warn(`giving up on a ${item.kind} after ${item.attempts} attempts: ${why}`);
    return;
  }
  setTimeout(() => deliver(item, null), Math.max(opt.receiptDelay, 100));
}

// Receipts wait in one FIFO (the delay is the same for all, so it stays in due order) drained by
// a single timer: at thousands a second, one timer per receipt and one write per receipt cost
// more than the rest of the peer.
const receiptQ = [];
let receiptHead = 0;
let receiptTimer = null;

function scheduleReceipt(sub, outcome, s) {
  receiptQ.push({ due: Date.now() + opt.receiptDelay, sub, outcome, s });
  if (!receiptTimer) receiptTimer = setTimeout(flushReceipts, opt.receiptDelay);
}

function flushReceipts() {
  receiptTimer = null;
  const now = Date.now();
  while (receiptHead < receiptQ.length && receiptQ[receiptHead].due <= now) {
    const r = receiptQ[receiptHead];
    receiptQ[receiptHead++] = undefined;
    deliver(receiptItem(r.sub, r.outcome, now), r.s);
  }
  if (receiptHead === receiptQ.length) {
    receiptQ.length = 0;
    receiptHead = 0;
  } else {
    if (receiptHead > 4096) {
      receiptQ.splice(0, receiptHead);
      receiptHead = 0;
    }
    receiptTimer = setTimeout(flushReceipts, Math.max(0, receiptQ[receiptHead].due - now));
  }
}

function flushPending(s) {
  const q = pending.get(s.systemId);
  if (!q || !q.length) return;
  pending.delete(s.systemId);
  for (const item of q) deliver(item, s);
}

function moItem(systemId, from, to, text, reason) {
  return {
    kind: 'mo', systemId, attempts: 0, reason,
    pdu: {
      source_addr_ton: 1, source_addr_npi: 1, source_addr: from,
      dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: to,
      esm_class: 0, data_coding: 0, short_message: gsmEncode(text),
    },
  };
}

function receiptItem(sub, outcomeName, doneMs) {
  const oc = OUTCOMES[outcomeName];
  const rid = receiptId(sub.n, sub.id);
  const text = `id:${rid} sub:001 dlvrd:${oc.dlvrd} submit date:${smppDate(sub.t)} done date:${smppDate(doneMs)}` +
    ` stat:${oc.stat} err:${oc.err} text:${Array.from(sub.text || '').slice(0, 20).join('')}`;
  const pdu = {
    source_addr_ton: sub.destTon, source_addr_npi: sub.destNpi, source_addr: sub.dest,
    dest_addr_ton: sub.sourceTon, dest_addr_npi: sub.sourceNpi, destination_addr: sub.source,
    esm_class: 0x04, data_coding: 0, short_message: gsmEncode(text),
  };
  if (opt.receiptTlv) {
    pdu.receipted_message_id = rid;
    pdu.message_state = oc.state;
  }
  return { kind: 'receipt', systemId: sub.systemId, attempts: 0, pdu };
}

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

const BIND_MODES = { bind_transceiver: 'transceiver', bind_transmitter: 'transmitter', bind_receiver: 'receiver' };

function respond(s, pdu, status, fields) {
  const o = fields || {};
  if (status) o.command_status = status;
  s.session.send(pdu.response(o));
}

function genericNack(s, pdu, status) {
  stats.generic_nacks++;
  s.session.send(new smpp.PDU('generic_nack', { sequence_number: pdu.sequence_number, command_status: status }));
}

function onBind(s, pdu) {
  const mode = BIND_MODES[pdu.command];
  if (s.bound) {
    respond(s, pdu, smpp.ESME_RALYBND);
    return;
  }
  let status = 0;
  if (pdu.system_id !== opt.systemId) status = smpp.ESME_RINVSYSID;
  else if (pdu.password !== opt.password) status = smpp.ESME_RINVPASWD;
  if (status) {
    stats.bind_refused++;
    emit('bind_refused', { session: s.id, mode, system_id: pdu.system_id, status });
    respond(s, pdu, status);
    s.session.close();
    return;
  }
  s.bound = mode;
  s.systemId = pdu.system_id;
  stats.binds++;
  stats.bound++;
  emit('bind', { session: s.id, mode, system_id: pdu.system_id });
  respond(s, pdu, 0, { system_id: 'unspoof-smsc', sc_interface_version: 0x34 });
  if (canReceive(s)) flushPending(s);
}

function onSubmit(s, pdu) {
  if (s.bound !== 'transceiver' && s.bound !== 'transmitter') {
    respond(s, pdu, smpp.ESME_RINVBNDSTS);
    return;
  }
  stats.submits++;
  const now = Date.now();
  if (throttled(now)) {
    stats.throttled++;
    respond(s, pdu, smpp.ESME_RTHROTTLED);
    return;
  }
  if (opt.queueFullEvery && (stats.submits - stats.throttled) % opt.queueFullEvery === 0) {
    stats.queue_full++;
    respond(s, pdu, smpp.ESME_RMSGQFUL);
    return;
  }
  const dest = pdu.destination_addr || '';
  const fail = matchRule(opt.failRules, dest, 0);
  if (fail) {
    stats.failed++;
    respond(s, pdu, fail);
    return;
  }

  // Accepted.
  if (opt.throttle) win.push(now);
  stats.accepted++;
  const n = ++lastId;
  const id = formatId(n);
  let raw = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
  if (raw.length === 0 && Buffer.isBuffer(pdu.message_payload)) raw = pdu.message_payload;
  const dc = pdu.data_coding || 0;
  const esm = pdu.esm_class || 0;
  const { udh, body } = splitUdh(raw, (esm & 0x40) !== 0);
  const text = decodeText(dc, body);
  const sub = {
    n, id, t: now, systemId: s.systemId, text,
    source: pdu.source_addr || '', sourceTon: pdu.source_addr_ton || 0, sourceNpi: pdu.source_addr_npi || 0,
    dest, destTon: pdu.dest_addr_ton || 0, destNpi: pdu.dest_addr_npi || 0,
  };
  if (logFd >= 0) {
    fs.writeSync(logFd, JSON.stringify({
      t: now, id, source: sub.source, dest, data_coding: dc, esm_class: esm,
      registered_delivery: pdu.registered_delivery || 0, udh, text, bytes: raw.toString('hex'),
      source_ton: sub.sourceTon, source_npi: sub.sourceNpi, dest_ton: sub.destTon, dest_npi: sub.destNpi,
    }) + '\n');
  }
  lastSource.set(s.systemId, sub.source);

  const outcome = matchRule(opt.receiptRules, dest, opt.receipt);
  const rd = (pdu.registered_delivery || 0) & 0x03;
  const wantReceipt = rd === 1 || rd === 3 || (rd === 2 && outcome !== 'delivered');
  if (wantReceipt && opt.receiptFirst) deliver(receiptItem(sub, outcome, Date.now()), s);

  const seqAccepted = stats.accepted;
  const dropNow = !dropDone && opt.dropAfter > 0 && seqAccepted === opt.dropAfter;
  if (dropNow) {
    // Nothing more is read from this session: the response for this PDU is the last thing it gets.
    dropDone = true;
    s.session.pause();
    s.session.send(pdu.response({ message_id: id }), () => {
      stats.drops++;
      emit('drop', { reason: 'drop_after', session: s.id, after: seqAccepted });
      s.session.destroy();
    });
  } else {
    s.session.send(pdu.response({ message_id: id }));
  }

  if (wantReceipt && !opt.receiptFirst) {
    scheduleReceipt(sub, outcome, s);
  }
  if (!moDone && opt.moAfter > 0 && seqAccepted === opt.moAfter) {
    moDone = true;
    deliver(moItem(s.systemId, opt.moFrom, sub.source, opt.moText, 'mo_after'), dropNow ? null : s);
  }
}

function onPdu(s, pdu) {
  switch (pdu.command) {
    case 'bind_transceiver':
    case 'bind_transmitter':
    case 'bind_receiver':
      onBind(s, pdu);
      return;
    case 'submit_sm':
      onSubmit(s, pdu);
      return;
    case 'enquire_link':
      respond(s, pdu, 0);
      return;
    case 'unbind':
      emit('unbind', { session: s.id, mode: s.bound });
      if (s.bound) stats.bound--;
      s.bound = null;
      respond(s, pdu, 0);
      s.session.close();
      return;
    case 'unknown':
      genericNack(s, pdu, smpp.ESME_RINVCMDID);
      return;
  }
  if (pdu.isResponse()) return; // deliver_sm_resp and the like: handled by the send callbacks
  genericNack(s, pdu, smpp.ESME_RINVCMDID); // a request this peer does not implement
}

const server = smpp.createServer((session) => {
  const s = { id: ++nextSessionId, session, bound: null, systemId: '', outstanding: new Map(), closed: false, corked: false };
  sessions.add(s);
  stats.sessions++;
  // Everything sent in one turn of the event loop (the responses to a batch of PDUs read
  // together, a batch of receipts) leaves in one write.
  const send = session.send.bind(session);
  session.send = (pdu, a, b) => {
    const sock = session.socket;
    if (!s.corked && sock.writable) {
      s.corked = true;
      sock.cork();
      process.nextTick(() => {
        s.corked = false;
        sock.uncork();
      });
    }
    return send(pdu, a, b);
  };
  session.on('pdu', (pdu) => onPdu(s, pdu));
  session.on('error', (e) => {
    if (e && e.code !== 'ECONNRESET' && e.code !== 'EPIPE') warn(`session ${s.id}: ${e.message || e}`);
    // A PDU the package cannot parse leaves the session unable to read on: end it.
    session.destroy();
  });
  session.on('close', () => {
    if (s.closed) return;
    s.closed = true;
    sessions.delete(s);
    if (s.bound) stats.bound--;
    emit('close', { session: s.id, mode: s.bound });
    const unanswered = Array.from(s.outstanding.values());
    s.outstanding.clear();
    for (const item of unanswered) retry(item, 'session closed before deliver_sm_resp');
  });
});

server.on('error', (e) => {
  warn(`server: ${e.message || e}`);
  process.exit(1);
});

server.listen(opt.port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ event: 'listening', port: server.address().port }) + '\n');
});

if (opt.enquireLink > 0) {
  setInterval(() => {
    for (const s of sessions) if (s.bound) s.session.enquire_link();
  }, opt.enquireLink).unref();
}

// ---------------------------------------------------------------------------------------------
// stdin control and shutdown
// ---------------------------------------------------------------------------------------------

function dropAll(reason) {
  const n = sessions.size;
  for (const s of Array.from(sessions)) s.session.destroy();
  stats.drops += n ? 1 : 0;
  emit('drop', { reason, sessions: n });
  return n;
}

function command(line) {
  const words = line.trim().split(/\s+/);
  switch (words[0]) {
    case '':
      return;
    case 'drop':
      emit('ack', { cmd: 'drop', n: dropAll('stdin') });
      return;
    case 'mo': {
      const m = /^\s*mo\s+(\S+)\s+(\S+)\s?(.*)$/.exec(line);
      if (!m) {
        emit('ack', { cmd: 'mo', n: 0, error: 'usage: mo FROM TO TEXT...' });
        return;
      }
      let n = 0;
      for (const s of sessions) {
        if (!canReceive(s)) continue;
        sendDeliver(s, moItem(s.systemId, m[1], m[2], m[3], 'stdin'));
        n++;
      }
      emit('ack', { cmd: 'mo', n });
      return;
    }
    case 'stats': {
      let held = 0;
      for (const q of pending.values()) held += q.length;
      emit('stats', Object.assign({}, stats, { pending: held }));
      return;
    }
    default:
      emit('ack', { cmd: words[0], n: 0, error: 'unknown command' });
  }
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', command);
rl.on('close', () => {
  if (opt.exitOnEof) shutdown('stdin closed');
});

function shutdown(why) {
  if (stopping) return;
  stopping = true;
  server.close();
  // Bound sessions get an unbind, as from a message centre going down; each socket is ended when
  // its unbind_resp arrives or after half a second, and the process exits once all are closed.
  for (const s of sessions) {
    if (s.bound) {
      s.session.unbind(() => s.session.close());
      setTimeout(() => s.session.close(), 500).unref();
    } else {
      s.session.close();
    }
    setTimeout(() => s.session.destroy(), 1000).unref();
  }
  const finish = () => {
    if (logFd >= 0) {
      try { fs.fsyncSync(logFd); fs.closeSync(logFd); } catch (e) { /* closing anyway */ }
    }
    emit('stopped', { reason: why });
    process.exit(0);
  };
  if (sessions.size === 0) return finish();
  const timer = setInterval(() => {
    if (sessions.size === 0) { clearInterval(timer); finish(); }
  }, 10);
  setTimeout(finish, 1500);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
