#!/usr/bin/env node
// podrt network agent: runs inside a network namespace created by the runtime (the runtime's
// own infra namespace, or a pod's namespace for port-forwards). Plain CommonJS so that it starts
// with bare `node` (no TypeScript loader), because it is started often.
//
//   node agent.cjs serve CTL_SOCKET [PROBE_SOURCE_ADDRESS]
//
// Control protocol: JSON lines on CTL_SOCKET, {id, op, ...} -> {id, ok, ...}
//   op=tcp   {host, port, timeoutMs}                  TCP connect probe
//   op=http  {host, port, path, scheme, headers, timeoutMs}  HTTP GET probe (200..399 = success)
//   op=relay {sock, host, port}  listen on Unix socket `sock`; every connection is piped to host:port
//   op=unrelay {sock}
'use strict';
const net = require('node:net');
const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');

const [, , mode, ctlPath, probeSrc] = process.argv;
if (mode !== 'serve' || !ctlPath) {
  process.stderr.write('usage: agent.cjs serve CTL_SOCKET [PROBE_SOURCE]\n');
  process.exit(2);
}

const relays = new Map();

function tcpProbe(m, done) {
  const opts = { host: m.host, port: m.port };
  if (probeSrc) opts.localAddress = probeSrc;
  const s = net.connect(opts);
  const t = setTimeout(() => { s.destroy(); done({ ok: false, error: `timeout after ${m.timeoutMs}ms` }); }, m.timeoutMs);
  s.once('connect', () => { clearTimeout(t); s.destroy(); done({ ok: true }); });
  s.once('error', (e) => { clearTimeout(t); done({ ok: false, error: e.message }); });
}

function httpProbe(m, done) {
  const lib = (m.scheme || 'HTTP').toUpperCase() === 'HTTPS' ? https : http;
  const headers = { 'User-Agent': 'kube-probe/1.30', Accept: '*/*' };
  for (const h of m.headers || []) headers[h.name] = h.value;
  let finished = false;
  const fin = (r) => { if (!finished) { finished = true; done(r); } };
  const req = lib.request({
    host: m.host, port: m.port, path: m.path || '/', method: 'GET', headers,
    localAddress: probeSrc || undefined, rejectUnauthorized: false, timeout: m.timeoutMs,
  }, (res) => {
    res.resume();
    const ok = res.statusCode >= 200 && res.statusCode < 400;
    fin({ ok, status: res.statusCode, error: ok ? undefined : `HTTP ${res.statusCode}` });
  });
  const t = setTimeout(() => { req.destroy(); fin({ ok: false, error: `timeout after ${m.timeoutMs}ms` }); }, m.timeoutMs);
  req.once('close', () => clearTimeout(t));
  req.once('error', (e) => fin({ ok: false, error: e.message }));
  req.end();
}

function relay(m, done) {
  try { fs.unlinkSync(m.sock); } catch { /* absent */ }
  const srv = net.createServer((c) => {
    const up = net.connect({ host: m.host, port: m.port });
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.pipe(up);
    up.pipe(c);
  });
  srv.once('error', (e) => done({ ok: false, error: e.message }));
  srv.listen(m.sock, () => { relays.set(m.sock, srv); done({ ok: true }); });
}

function handle(m, reply) {
  const done = (r) => reply(Object.assign({ id: m.id }, r));
  try {
    if (m.op === 'tcp') return tcpProbe(m, done);
    if (m.op === 'http') return httpProbe(m, done);
    if (m.op === 'relay') return relay(m, done);
    if (m.op === 'unrelay') {
      const s = relays.get(m.sock);
      if (s) { s.close(); relays.delete(m.sock); }
      try { fs.unlinkSync(m.sock); } catch { /* absent */ }
      return done({ ok: true });
    }
    if (m.op === 'ping') return done({ ok: true, pid: process.pid });
    done({ ok: false, error: `unknown op ${m.op}` });
  } catch (e) {
    done({ ok: false, error: String(e && e.message || e) });
  }
}

try { fs.unlinkSync(ctlPath); } catch { /* absent */ }
const ctl = net.createServer((c) => {
  let buf = '';
  c.setEncoding('utf8');
  c.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      let m;
      try { m = JSON.parse(line); } catch { continue; }
      handle(m, (r) => { if (!c.destroyed) c.write(JSON.stringify(r) + '\n'); });
    }
  });
  c.on('error', () => {});
});
ctl.listen(ctlPath, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
