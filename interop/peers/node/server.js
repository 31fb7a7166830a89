'use strict';

// Scenario WebSocket server for the wsreconnect interop suite, built on the
// `ws` library. The URL path picks the behaviour of a connection and the query
// string tunes it; every connection is counted under a key (the `id` query
// parameter, or the path when there is none) so tests can assert on what the
// server saw.
//
// Usage: node server.js [port]   (or PORT=...; 0 or nothing picks a free port)
// The first line printed on stdout is the port the server listens on.
//
// Paths (all on 127.0.0.1):
//   /echo                 echo every message with its type
//   /close?code=C&reason=R&after=N|ms=N
//                         echo, then close with code C (or an empty close
//                         frame when code=none) after N messages or N ms;
//                         codes that ws refuses to send (1004, 1006, 1015,
//                         1016-2999, ...) are written as a raw close frame
//   /maxpayload?max=N     echo with ws's maxPayload=N: larger messages get
//                         ws's own 1009 close
//   /utf8                 echo; invalid UTF-8 in a text message gets ws's own
//                         1007 close
//   /drop?after=N|ms=N    destroy the TCP connection without a close frame
//   /reset?after=N|ms=N   reset the TCP connection (RST)
//   /nopong               echo, but never answer pings (ws autoPong:false)
//   /stopread             accept, then stop reading from the socket
//   /refuse?status=S&retry=SECONDS
//                         refuse the upgrade with HTTP status S (default 503),
//                         with a Retry-After header when retry is given
//   /hang                 never answer the upgrade request
//   /rstupgrade           reset the TCP connection instead of answering the
//                         upgrade request
//   /sink                 append every text message, one line each, to the
//                         file named by the SINK_FILE environment variable,
//                         fsync it, and only then answer a "seq:N ..."
//                         message with the cumulative ack "ack:N" (N the
//                         highest sequence number this process has logged);
//                         successive processes append to the same file
//   GET /stats[?id=K]     JSON counters (all keys, or one key)
//   GET /healthz          200 "ok"
//
// Query parameters for every WebSocket path:
//   id=K        count this connection under key K
//   record=1    keep the text of received text messages (first 100000) so a
//               test can check order and duplicates; when the RECORD_FILE
//               environment variable names a file, each such message is also
//               appended to it as "key<TAB>text<LF>" with a synchronous write,
//               so the record survives SIGKILL and restarts
//
// SIGTERM closes every open WebSocket with 1001 and exits; SIGKILL, of
// course, closes nothing.

const fs = require('fs');
const http = require('http');
const { WebSocketServer } = require('ws');

const RECORD_LIMIT = 100000;
const TIMES_LIMIT = 100000;

const startedAt = Date.now();
const recordFd = process.env.RECORD_FILE ? fs.openSync(process.env.RECORD_FILE, 'a') : null;
const sinkFd = process.env.SINK_FILE ? fs.openSync(process.env.SINK_FILE, 'a') : null;
let sinkHighest = -1; // highest sequence number logged by this process
const stats = new Map();
const sockets = new Set();
const clients = new Set();

function statsFor(key) {
  let s = stats.get(key);
  if (!s) {
    s = {
      upgrades: 0, // upgrade requests seen
      connections: 0, // WebSocket connections accepted
      open: 0, // WebSocket connections open now
      refused: 0, // upgrades refused with an HTTP status
      hung: 0, // upgrades never answered
      messages: 0, // messages received
      textMessages: 0,
      binaryMessages: 0,
      bytes: 0, // payload bytes received
      pings: 0, // pings received
      serverCloses: 0, // closes started by the scenario (close, drop, reset)
      closeCodes: {}, // close code seen by the server when a connection ended -> count
      connectTimes: [], // ms since process start of each accepted connection
      upgradeTimes: [], // ms since process start of each upgrade request
      record: [], // received text messages when record=1
    };
    stats.set(key, s);
  }
  return s;
}

const wssByOptions = new Map();

// wssFor returns a noServer WebSocketServer for the given options, so that
// per-scenario server options (maxPayload, autoPong) can share one port.
function wssFor(options) {
  const k = JSON.stringify(options);
  let wss = wssByOptions.get(k);
  if (!wss) {
    wss = new WebSocketServer({ noServer: true, clientTracking: false, ...options });
    wssByOptions.set(k, wss);
  }
  return wss;
}

function intParam(q, name, def) {
  const v = q.get(name);
  if (v === null || v === '') return def;
  const n = Number(v);
  return Number.isFinite(n) ? n : def;
}

// rawClose writes a close frame by hand (for codes ws refuses to send) and
// ends the socket.
function rawClose(socket, code, reason) {
  const r = Buffer.from(reason || '', 'utf8').subarray(0, 123);
  const frame = Buffer.alloc(4 + r.length);
  frame[0] = 0x88;
  frame[1] = 2 + r.length;
  frame.writeUInt16BE(code, 2);
  r.copy(frame, 4);
  socket.end(frame);
}

function closeWith(ws, socket, q) {
  const codeParam = q.get('code') || '1000';
  const reason = q.get('reason') || '';
  if (codeParam === 'none') {
    ws.close();
    return;
  }
  const code = Number(codeParam);
  if (q.get('raw') === '1') {
    rawClose(socket, code, reason);
    return;
  }
  try {
    ws.close(code, reason);
  } catch (err) {
    rawClose(socket, code, reason);
  }
}

function refuse(socket, q, s) {
  const status = intParam(q, 'status', 503);
  const text = http.STATUS_CODES[status] || 'Status';
  let head = `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n`;
  if (q.get('retry') !== null) head += `Retry-After: ${q.get('retry')}\r\n`;
  const body = `${status} ${text}\n`;
  head += `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  s.refused++;
  socket.end(head + body);
}

function onConnection(ws, socket, scenario, q, key, s) {
  clients.add(ws);
  s.connections++;
  s.open++;
  if (s.connectTimes.length < TIMES_LIMIT) s.connectTimes.push(Date.now() - startedAt);
  const record = q.get('record') === '1';
  const after = intParam(q, 'after', -1);
  const ms = intParam(q, 'ms', -1);
  let received = 0;
  let done = false;

  const act = () => {
    if (done) return;
    done = true;
    s.serverCloses++;
    switch (scenario) {
      case 'close':
        closeWith(ws, socket, q);
        break;
      case 'drop':
        socket.destroy();
        break;
      case 'reset':
        if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
        else socket.destroy();
        break;
      default:
        break;
    }
  };

  ws.on('close', (code) => {
    clients.delete(ws);
    s.open--;
    s.closeCodes[code] = (s.closeCodes[code] || 0) + 1;
  });
  ws.on('error', () => {});
  ws.on('ping', () => {
    s.pings++;
  });
  if (scenario === 'sink') {
    ws.on('message', (data, isBinary) => {
      s.messages++;
      s.bytes += data.length;
      if (isBinary) {
        s.binaryMessages++;
        return;
      }
      s.textMessages++;
      const text = data.toString('utf8');
      fs.writeSync(sinkFd, `${text}\n`);
      fs.fsyncSync(sinkFd);
      const m = /^seq:(\d+)/.exec(text);
      if (!m) return;
      const seq = Number(m[1]);
      if (seq > sinkHighest) sinkHighest = seq;
      if (ws.readyState === ws.OPEN) ws.send(`ack:${sinkHighest}`);
    });
    return;
  }
  ws.on('message', (data, isBinary) => {
    s.messages++;
    s.bytes += data.length;
    if (isBinary) s.binaryMessages++;
    else s.textMessages++;
    if (record && !isBinary) {
      const text = data.toString('utf8');
      if (s.record.length < RECORD_LIMIT) s.record.push(text);
      if (recordFd !== null) fs.writeSync(recordFd, `${key}\t${text}\n`);
    }
    received++;
    if (done) return;
    if (ws.readyState === ws.OPEN) ws.send(data, { binary: isBinary });
    if (after >= 0 && received >= after) act();
  });

  if (scenario === 'stopread') {
    socket.pause();
    return;
  }
  if (['close', 'drop', 'reset'].includes(scenario)) {
    if (after === 0) act();
    else if (ms >= 0) {
      const timer = setTimeout(act, ms);
      ws.on('close', () => clearTimeout(timer));
    }
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/stats') {
    const id = url.searchParams.get('id');
    let body;
    if (id !== null) body = { pid: process.pid, started: startedAt, key: id, stats: statsFor(id) };
    else body = { pid: process.pid, started: startedAt, keys: Object.fromEntries(stats) };
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
    return;
  }
  if (url.pathname === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
    return;
  }
  res.writeHead(426, { 'Content-Type': 'text/plain' });
  res.end('upgrade required\n');
});

server.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => {});
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const q = url.searchParams;
  const scenario = url.pathname.replace(/^\/+/, '') || 'echo';
  const key = q.get('id') || url.pathname;
  const s = statsFor(key);
  s.upgrades++;
  if (s.upgradeTimes.length < TIMES_LIMIT) s.upgradeTimes.push(Date.now() - startedAt);

  const options = {};
  switch (scenario) {
    case 'refuse':
      refuse(socket, q, s);
      return;
    case 'hang':
      s.hung++;
      return; // keep the socket open, never answer
    case 'sink':
      if (sinkFd === null) {
        s.refused++;
        socket.end('HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      break;
    case 'rstupgrade':
      s.refused++;
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
      else socket.destroy();
      return;
    case 'maxpayload':
      options.maxPayload = intParam(q, 'max', 1024);
      break;
    case 'nopong':
      options.autoPong = false;
      break;
    case 'echo':
    case 'close':
    case 'utf8':
    case 'drop':
    case 'reset':
    case 'stopread':
      break;
    default:
      s.refused++;
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
  }
  wssFor(options).handleUpgrade(req, socket, head, (ws) => onConnection(ws, socket, scenario, q, key, s));
});

function shutdown() {
  for (const ws of clients) {
    try {
      ws.close(1001, 'server shutting down');
    } catch (err) {
      // already closing
    }
  }
  server.close();
  const deadline = setTimeout(() => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  }, 500);
  const poll = setInterval(() => {
    if (clients.size === 0) {
      clearInterval(poll);
      clearTimeout(deadline);
      for (const socket of sockets) socket.destroy();
      process.exit(0);
    }
  }, 10);
}

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

const port = Number(process.argv[2] || process.env.PORT || 0);
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
