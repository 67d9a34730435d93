// Ignite audit bootstrap for Node.js and Bun (loaded with node --require / bun --preload before
// the service's entry, in audit mode only). It records attempted network connections, file
// writes outside /tmp and process spawns, and reports each as one line on stderr:
//   \x1eIGNITE-AUDIT <nonce> <json>\n
// The nonce is the first line of stdin, written there by the engine; it is read here before
// any service code runs and kept only in this closure. The hooks never block anything: they
// record the attempt and call the original, so the kernel (seccomp, no network interfaces,
// read-only root filesystem) decides what happens. Code in the same process can bypass them.
'use strict';
(function igniteAudit() {
  const fs = require('fs');
  const pathMod = require('path');
  const { fileURLToPath } = require('url');
  const readSync = fs.readSync;
  const writeSync = fs.writeSync;
  const realpathSync = fs.realpathSync.native || fs.realpathSync;
  const resolvePath = pathMod.resolve;
  const dirnameOf = pathMod.dirname;
  const basenameOf = pathMod.basename;
  const stringify = JSON.stringify;
  const now = Date.now;
  const cwd = process.cwd.bind(process);
  const sleepCell = new Int32Array(new SharedArrayBuffer(4));
  const sleep = (ms) => Atomics.wait(sleepCell, 0, 0, ms);
  const isBun = typeof Bun !== 'undefined';
  // Worker threads run preloads too: they must neither wait for a nonce nor eat the service's
  // stdin. Their calls are not observed.
  try {
    if (!require('worker_threads').isMainThread) return;
  } catch (e) { /* no worker_threads: the main thread */ }

  // ---- the nonce: exactly the first line of stdin, byte by byte --------------------------------
  let nonce = '';
  {
    const b = Buffer.alloc(1);
    for (let tries = 0; nonce.length < 128 && tries < 100000;) {
      let n;
      try {
        n = readSync(0, b, 0, 1, null);
      } catch (e) {
        if (e && e.code === 'EAGAIN') { tries++; sleep(1); continue; }
        break;
      }
      if (n !== 1 || b[0] === 10) break;
      nonce += String.fromCharCode(b[0]);
    }
  }
  // Loaded without the engine's nonce: stay out of the way.
  if (!/^[0-9a-f]{32}$/.test(nonce)) return;

  // Hide the bootstrap from child runtimes (they would wait for a nonce of their own).
  const flag = isBun ? '--preload' : '--require';
  for (let i = 0; i + 1 < process.execArgv.length; i++) {
    if (process.execArgv[i] === flag && /^\/opt\/ignite\/audit-/.test(process.execArgv[i + 1])) {
      try { process.execArgv.splice(i, 2); } catch (e) { /* read-only: leave it */ }
      break;
    }
  }

  // ---- emitting ---------------------------------------------------------------------------------
  const prefix = '\x1eIGNITE-AUDIT ' + nonce + ' ';
  const ascii = (s) => s.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  const text = (v) => { try { return String(v); } catch (e) { return '?'; } };
  const clip = (s, n) => (s.length > n ? s.slice(0, n) + '...' : s);
  function writeAll(line) {
    const buf = Buffer.from(line, 'latin1');
    let off = 0;
    for (let tries = 0; off < buf.length && tries < 1000;) {
      try {
        off += writeSync(2, buf, off, buf.length - off);
      } catch (e) {
        if (e && e.code === 'EAGAIN') { tries++; sleep(1); continue; }
        return;
      }
    }
  }
  // One line, kept under PIPE_BUF so it is never interleaved with other writes to stderr.
  function emit(type, action, target, details, program) {
    let limit = 1000;
    for (;;) {
      const rec = { type, action, target: clip(text(target), limit), time: now(), details: clip(text(details), limit) };
      if (program !== undefined) rec.program = clip(text(program), limit);
      const line = prefix + ascii(stringify(rec)) + '\n';
      if (line.length < 3800 || limit < 20) { writeAll(line); return; }
      limit = limit >> 1;
    }
  }

  // Calls made by a hook's original (fs.writeFileSync -> fs.openSync) are not attempts of their
  // own: nothing is recorded while a hooked call is on the stack. Asynchronous inner calls
  // (fetch -> net.connect, createWriteStream -> fs.open) are announced as expected instead.
  let depth = 0;
  const expected = new Map();
  function expect(key) {
    if (expected.size > 1000) expected.clear();
    expected.set(key, (expected.get(key) || 0) + 1);
  }
  function wasExpected(key) {
    const n = expected.get(key);
    if (!n) return false;
    if (n === 1) expected.delete(key); else expected.set(key, n - 1);
    return true;
  }
  // ev: [type, action, target, details, program?, expectKey?]
  function record(ev) {
    if (!ev) return;
    const key = ev[0] + ' ' + ev[1] + ' ' + ev[2];
    if (wasExpected(key)) return;
    emit(ev[0], ev[1], ev[2], ev[3], ev[4]);
    if (ev[5]) expect(ev[5]);
  }
  const skip = new Set(['length', 'name', 'prototype', 'arguments', 'caller']);
  function hook(obj, name, describe) {
    if (!obj) return;
    const orig = obj[name];
    if (typeof orig !== 'function' || orig.__igniteAudit) return;
    const wrapped = function (...args) {
      if (depth === 0) {
        let ev;
        try { ev = describe.apply(this, args); } catch (e) { ev = undefined; }
        try { record(ev); } catch (e) { /* never let auditing break the call */ }
      }
      depth++;
      try {
        return new.target ? Reflect.construct(orig, args, new.target === wrapped ? orig : new.target)
                          : orig.apply(this, args);
      } finally {
        depth--;
      }
    };
    for (const k of Reflect.ownKeys(orig)) {
      if (skip.has(k)) continue;
      try { Object.defineProperty(wrapped, k, Object.getOwnPropertyDescriptor(orig, k)); } catch (e) { /* skip */ }
    }
    try { Object.defineProperty(wrapped, 'name', { value: orig.name }); } catch (e) { /* skip */ }
    try { Object.defineProperty(wrapped, 'length', { value: orig.length }); } catch (e) { /* skip */ }
    if (orig.prototype) wrapped.prototype = orig.prototype;
    Object.defineProperty(wrapped, '__igniteAudit', { value: true });
    try {
      obj[name] = wrapped;
      if (obj[name] !== wrapped) throw new Error('not writable');
    } catch (e) {
      try { Object.defineProperty(obj, name, { value: wrapped, writable: true, configurable: true, enumerable: true }); } catch (e2) { /* skip */ }
    }
  }

  // ---- paths ------------------------------------------------------------------------------------
  const quiet = /^\/(dev\/(null|zero|full|random|urandom|tty|stdin|stdout|stderr|fd\/.*)|proc\/(self|thread-self|\d+)\/fd\/.*)$/;
  function toPath(p) {
    if (typeof p === 'string') return p;
    if (p instanceof URL) return p.protocol === 'file:' ? fileURLToPath(p) : null;
    if (p instanceof Uint8Array) return Buffer.from(p).toString();
    if (isBun && p && typeof p === 'object' && typeof p.name === 'string') return p.name;  // BunFile
    return null;
  }
  // The absolute path a write to p would touch when it is outside /tmp, else null.
  function outside(p) {
    p = toPath(p);
    if (p === null || p === '') return null;
    let abs = resolvePath(cwd(), p);
    if (quiet.test(abs)) return null;
    try {
      const dir = realpathSync(dirnameOf(abs));
      abs = dir === '/' ? '/' + basenameOf(abs) : dir + '/' + basenameOf(abs);
    } catch (e) { /* a missing parent: keep the lexical path */ }
    if (abs === '/tmp' || abs.startsWith('/tmp/')) return null;
    return abs;
  }
  function fsEvent(action, p, api) {
    const abs = outside(p);
    return abs ? ['filesystem', action, abs, api] : undefined;
  }
  const O_WRITE = (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT |
                   fs.constants.O_TRUNC | fs.constants.O_APPEND);
  function writes(flags) {
    if (flags === undefined || flags === null) return false;
    if (typeof flags === 'number') return (flags & O_WRITE) !== 0;
    return /[wa+]/.test(String(flags));
  }

  // ---- filesystem -------------------------------------------------------------------------------
  function hookFs(mod, api, sync) {
    const suf = sync ? 'Sync' : '';
    // fs.rm's (and fs.promises.rm's) walk calls the (hooked) fs.lstat/unlink later: expect the top path once more.
    const later = !sync;
    const w = (name, action, arg = 0) => hook(mod, name, (...a) => {
      const ev = fsEvent(action, a[arg], api + name);
      if (ev && later && name === 'rm') ev[5] = 'filesystem delete ' + ev[2];
      return ev;
    });
    for (const base of ['writeFile', 'appendFile', 'truncate']) w(base + suf, 'write');
    for (const base of ['copyFile', 'cp']) w(base + suf, 'write', 1);
    for (const base of ['mkdir', 'mkdtemp']) w(base + suf, 'mkdir');
    for (const base of ['rm', 'rmdir', 'unlink']) w(base + suf, 'delete');
    for (const base of ['symlink', 'link']) w(base + suf, base, 1);
    hook(mod, 'rename' + suf, (from, to) => {
      const a = outside(from);
      const b = outside(to);
      if (!a && !b) return undefined;
      return ['filesystem', 'rename', b || a, api + 'rename' + suf + ': ' + text(toPath(from)) + ' -> ' + text(toPath(to))];
    });
    hook(mod, 'open' + suf, (p, flags) => (writes(flags) ? fsEvent('write', p, api + 'open' + suf + ' ' + text(flags)) : undefined));
  }
  hookFs(fs, 'fs.', true);
  hookFs(fs, 'fs.', false);
  hookFs(fs.promises, 'fs.promises.', false);
  hook(fs, 'createWriteStream', (p, opts) => {
    if (opts && typeof opts === 'object' && typeof opts.fd === 'number') return undefined;
    const ev = fsEvent('write', p, 'fs.createWriteStream');
    if (ev) ev[5] = 'filesystem write ' + ev[2];  // its fs.open comes later
    return ev;
  });

  // ---- network ----------------------------------------------------------------------------------
  const bare = (h) => String(h).replace(/^\[(.*)\]$/, '$1');
  const hostPort = (host, port) => {
    host = bare(host === undefined || host === null || host === '' ? 'localhost' : host);
    return (host.includes(':') ? '[' + host + ']' : host) + ':' + text(port);
  };
  function urlTarget(input, base) {
    let u;
    if (typeof input === 'string' || input instanceof URL) u = new URL(String(input), base);
    else if (input && typeof input === 'object' && typeof input.url === 'string') u = new URL(input.url);
    else return null;
    const port = u.port || ({ 'http:': 80, 'ws:': 80, 'https:': 443, 'wss:': 443 })[u.protocol];
    if (port === undefined) return null;
    return { target: hostPort(u.hostname, port), url: u.protocol + '//' + u.host + u.pathname };
  }
  function socketTarget(args) {
    let a0 = args[0];
    if (Array.isArray(a0)) { args = a0; a0 = a0[0]; }  // net's normalized [options, cb]
    if (a0 && typeof a0 === 'object') {
      if (a0.path) return 'unix:' + text(a0.path);
      return hostPort(a0.host || a0.hostname, a0.port);
    }
    if (typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) {
      return hostPort(typeof args[1] === 'string' ? args[1] : 'localhost', a0);
    }
    if (typeof a0 === 'string') return 'unix:' + a0;
    return null;
  }
  const net = require('net');
  const netEvent = (api) => function (...args) {
    const t = socketTarget(args);
    return t ? ['network', 'connect', t, api] : undefined;
  };
  hook(net.Socket.prototype, 'connect', netEvent('net.Socket.connect'));
  hook(net, 'connect', netEvent('net.connect'));
  hook(net, 'createConnection', netEvent('net.createConnection'));
  const tls = require('tls');
  hook(tls, 'connect', netEvent('tls.connect'));
  for (const modName of ['http', 'https']) {
    const mod = require(modName);
    const reqEvent = (api) => (input, options) => {
      let t = null;
      let url = '';
      if (typeof input === 'string' || input instanceof URL) {
        const r = urlTarget(input);
        if (r) { t = r.target; url = r.url; }
      } else {
        options = input;
      }
      if (!t && options && typeof options === 'object') {
        if (options.socketPath) t = 'unix:' + text(options.socketPath);
        else t = hostPort(options.hostname || options.host, options.port || (modName === 'https' ? 443 : 80));
      }
      if (!t) return undefined;
      return ['network', 'connect', t, api + (url ? ' ' + url : ''), undefined, 'network connect ' + t];
    };
    hook(mod, 'request', reqEvent(modName + '.request'));
    hook(mod, 'get', reqEvent(modName + '.get'));
  }
  const dns = require('dns');
  const dnsEvent = (api) => (host) => ['network', 'dns', text(host), api];
  const resolvers = ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCaa',
                     'resolveCname', 'resolveMx', 'resolveNaptr', 'resolveNs', 'resolvePtr', 'resolveSoa',
                     'resolveSrv', 'resolveTxt', 'reverse'];
  for (const r of resolvers) {
    hook(dns, r, dnsEvent('dns.' + r));
    if (dns.promises) hook(dns.promises, r, dnsEvent('dns.promises.' + r));
  }
  try {
    const dgram = require('dgram');
    hook(dgram.Socket.prototype, 'connect', (port, host) => ['network', 'connect', hostPort(host, port), 'dgram.connect']);
    hook(dgram.Socket.prototype, 'send', function (msg, ...rest) {
      // send(msg[, offset, length], port[, address][, cb])
      const nums = rest.filter((x) => typeof x === 'number');
      const port = nums.length >= 3 ? nums[2] : nums[0];
      if (port === undefined) return undefined;  // a connected socket: recorded at connect
      const host = rest.find((x) => typeof x === 'string');
      return ['network', 'connect', hostPort(host, port), 'dgram.send'];
    });
  } catch (e) { /* no dgram */ }
  const fetchEvent = (api) => (input) => {
    const r = urlTarget(input);
    return r ? ['network', 'connect', r.target, api + ' ' + r.url, undefined, 'network connect ' + r.target] : undefined;
  };
  hook(globalThis, 'fetch', fetchEvent('fetch'));
  hook(globalThis, 'WebSocket', fetchEvent('WebSocket'));
  hook(globalThis, 'EventSource', fetchEvent('EventSource'));

  // ---- processes --------------------------------------------------------------------------------
  const cp = require('child_process');
  const firstWord = (s) => text(s).trim().split(/\s+/)[0] || '';
  const argvText = (file, args) => [text(file)].concat(Array.isArray(args) ? args.map(text) : []).join(' ');
  const spawnEvent = (api) => (file, args, opts) => {
    if (!Array.isArray(args)) { opts = args; args = []; }
    if (opts && opts.shell) return ['process', 'spawn', text(file), api + ': ' + argvText(file, args), firstWord(file)];
    return ['process', 'spawn', text(file), api + ': ' + argvText(file, args), text(file)];
  };
  for (const n of ['spawn', 'spawnSync', 'execFile', 'execFileSync']) hook(cp, n, spawnEvent('child_process.' + n));
  for (const n of ['exec', 'execSync']) {
    hook(cp, n, (command) => ['process', 'spawn', text(command), 'child_process.' + n + ' (shell): ' + text(command), firstWord(command)]);
  }
  hook(cp, 'fork', (modulePath, args) =>
    ['process', 'spawn', process.execPath, 'child_process.fork: ' + argvText(modulePath, args), process.execPath]);

  // ---- Bun --------------------------------------------------------------------------------------
  if (isBun) {
    const bunCmd = (a0) => (Array.isArray(a0) ? a0 : a0 && Array.isArray(a0.cmd) ? a0.cmd : null);
    for (const n of ['spawn', 'spawnSync']) {
      hook(Bun, n, (a0) => {
        const cmd = bunCmd(a0);
        return cmd && cmd.length ? ['process', 'spawn', text(cmd[0]), 'Bun.' + n + ': ' + cmd.map(text).join(' '), text(cmd[0])] : undefined;
      });
    }
    hook(Bun, 'write', (dest) => (typeof dest === 'number' ? undefined : fsEvent('write', dest, 'Bun.write')));
    hook(Bun, 'connect', (o) => (o && typeof o === 'object'
      ? ['network', 'connect', o.unix ? 'unix:' + text(o.unix) : hostPort(o.hostname || o.host, o.port), 'Bun.connect']
      : undefined));
  }

  // ESM named imports of builtins (import { writeFileSync } from 'node:fs') see the hooks too.
  try { require('module').syncBuiltinESMExports(); } catch (e) { /* Bun: live bindings */ }
})();
