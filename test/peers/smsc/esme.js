#!/usr/bin/env node
// A test ESME built on the npm package `smpp` acting as the client: it binds to an SMSC (the
// project's own simulator, `unspoof smsc-sim`, in smpp/smscsim's tests), submits messages, waits
// for their delivery receipts and mobile-originated messages, and prints one JSON object with
// everything it saw. A simulator proven against a third-party client is not only proven against
// our own client.
//
//   node esme.js --port 2775 --system-id unspoof --password secret --to 447700900001,447700900002 \
//       [--from 447700900999] [--text "hello"] [--bind transceiver|transmitter|receiver] [--wait-ms 3000]
//
// Output (stdout, one line): {"bind":{"status":0,"system_id":"…"},"submits":[{"to":…,"status":0,
// "message_id":"…"}],"receipts":[{"from":…,"id":…,"stat":…,"text":…}],"mo":[{"from":…,"to":…,"text":…}]}
'use strict';

const smpp = require('smpp');

function flags(argv) {
  const o = { port: 0, systemId: 'unspoof', password: 'secret', to: [], from: '447700900999', text: 'hello',
    bind: 'transceiver', waitMs: 3000 };
  for (let i = 2; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--port': o.port = Number(v); i++; break;
      case '--system-id': o.systemId = v; i++; break;
      case '--password': o.password = v; i++; break;
      case '--to': o.to = v ? v.split(',').filter(Boolean) : []; i++; break;
      case '--from': o.from = v; i++; break;
      case '--text': o.text = v; i++; break;
      case '--bind': o.bind = v; i++; break;
      case '--wait-ms': o.waitMs = Number(v); i++; break;
      default:
        process.stderr.write(`esme.js: unknown flag ${argv[i]}\n`);
        process.exit(2);
    }
  }
  if (!o.port) {
    process.stderr.write('esme.js: --port is required\n');
    process.exit(2);
  }
  return o;
}

const opt = flags(process.argv);
const out = { bind: null, submits: [], receipts: [], mo: [] };
const session = smpp.connect({ url: `smpp://127.0.0.1:${opt.port}`, auto_enquire_link_period: 0 });

function finish() {
  process.stdout.write(JSON.stringify(out) + '\n');
  session.close();
  setTimeout(() => process.exit(0), 200).unref();
}

session.on('error', (e) => {
  process.stderr.write(`esme.js: ${e.message}\n`);
  out.error = e.message;
  finish();
});

session.on('deliver_sm', (pdu) => {
  const text = Buffer.isBuffer(pdu.short_message) ? pdu.short_message.toString('latin1')
    : (pdu.short_message && pdu.short_message.message) || String(pdu.short_message || '');
  if (pdu.esm_class & 0x04) {
    const stat = /stat:(\w+)/.exec(text);
    out.receipts.push({ from: pdu.source_addr, to: pdu.destination_addr, id: pdu.receipted_message_id || null,
      state: pdu.message_state === undefined ? null : pdu.message_state, stat: stat ? stat[1] : null, text });
  } else {
    out.mo.push({ from: pdu.source_addr, to: pdu.destination_addr, text });
  }
  session.send(pdu.response());
});

session.on('connect', () => {
  session[`bind_${opt.bind}`]({ system_id: opt.systemId, password: opt.password }, (resp) => {
    out.bind = { status: resp.command_status, system_id: resp.system_id };
    if (resp.command_status !== 0) {
      finish();
      return;
    }
    let left = opt.to.length;
    if (left === 0) {
      setTimeout(finish, opt.waitMs);
      return;
    }
    for (const to of opt.to) {
      session.submit_sm({ source_addr_ton: 1, source_addr_npi: 1, source_addr: opt.from, dest_addr_ton: 1,
        dest_addr_npi: 1, destination_addr: to, registered_delivery: 1, short_message: opt.text }, (r) => {
        out.submits.push({ to, status: r.command_status, message_id: r.message_id || null });
        if (--left === 0) setTimeout(finish, opt.waitMs);
      });
    }
  });
});
