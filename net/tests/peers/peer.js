// Node interop peer for the meshtls-net tests: node:tls for raw mTLS, `ws` (npm) for wss.
// Same modes and output as peer.py.
'use strict';
const tls = require('node:tls');
const https = require('node:https');
const fs = require('node:fs');

const say = (...parts) => console.log(parts.join(' '));
const read = (p) => fs.readFileSync(p);
const [mode, ...args] = process.argv.slice(2);

function uriOf(cert) {
  const san = (cert && cert.subjectaltname) || '';
  const m = san.split(', ').find((s) => s.startsWith('URI:'));
  return m ? m.slice(4) : '-';
}

function serverOpts(cert, key, ca) {
  return { cert: read(cert), key: read(key), ca: read(ca), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' };
}

function clientOpts(port, cert, key, ca) {
  const o = { host: '127.0.0.1', port: Number(port), servername: 'localhost', ca: read(ca), minVersion: 'TLSv1.3' };
  if (cert !== '-') { o.cert = read(cert); o.key = read(key); }
  return o;
}

function server(cert, key, ca) {
  const srv = tls.createServer(serverOpts(cert, key, ca), (sock) => {
    say('ACCEPT', uriOf(sock.getPeerCertificate()));
    let buf = '';
    sock.on('data', (d) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) sock.end(`echo:${buf.slice(0, i)}\n`);
    });
    sock.on('error', (e) => say('REJECT', e.code || e.message));
  });
  srv.on('tlsClientError', (e) => say('REJECT', e.code || '', e.message));
  srv.listen(0, '127.0.0.1', () => say('READY', srv.address().port));
}

function client(port, cert, key, ca) {
  let reply = '';
  const sock = tls.connect(clientOpts(port, cert, key, ca), () => sock.write('ping\n'));
  sock.setTimeout(10000, () => { say('ERR timeout'); process.exit(1); });
  sock.on('data', (d) => { reply += d; });
  sock.on('end', () => {
    if (reply.trim()) { say('OK', reply.trim(), uriOf(sock.getPeerCertificate())); process.exit(0); }
    say('ERR closed without a reply'); process.exit(1);
  });
  sock.on('error', (e) => { say('ERR', e.code || '', e.message); process.exit(1); });
}

function wsServer(cert, key, ca) {
  const { WebSocketServer } = require('ws');
  const srv = https.createServer(serverOpts(cert, key, ca));
  const wss = new WebSocketServer({ server: srv });
  wss.on('connection', (ws, req) => {
    say('ACCEPT', uriOf(req.socket.getPeerCertificate()));
    ws.on('message', (m, binary) => ws.send(m, { binary }));
  });
  srv.on('tlsClientError', (e) => say('REJECT', e.code || '', e.message));
  srv.listen(0, '127.0.0.1', () => say('READY', srv.address().port));
}

function wsClient(port, cert, key, ca) {
  const WebSocket = require('ws');
  const o = clientOpts(port, cert, key, ca);
  delete o.host; delete o.port;
  const ws = new WebSocket(`wss://127.0.0.1:${port}/`, o);
  const timer = setTimeout(() => { say('ERR timeout'); process.exit(1); }, 10000);
  ws.on('open', () => ws.send('ping'));
  ws.on('message', (m) => { clearTimeout(timer); say('OK', m.toString()); process.exit(0); });
  ws.on('error', (e) => { say('ERR', e.code || '', e.message); process.exit(1); });
}

({ server, client, 'ws-server': wsServer, 'ws-client': wsClient })[mode](...args);
