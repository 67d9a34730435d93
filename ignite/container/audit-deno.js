// Ignite audit bootstrap for Deno (loaded with deno run --preload before the service's entry, in
// audit mode only). It records attempted network connections, file writes outside /tmp and
// process spawns made through the Deno namespace and the web APIs, and reports each as one line
// on stderr:
//   \x1eIGNITE-AUDIT <nonce> <json>\n
// The nonce is the first line of stdin, written there by the engine; it is read here before
// any service code runs and kept only in this closure. The hooks never block anything: they
// record the attempt and call the original, so Deno's permissions and the kernel decide what
// happens. Code in the same process can bypass them.
(() => {
  const D = globalThis.Deno;
  if (!D || !D.stdin || !D.stderr) return;
  // Workers must neither wait for a nonce nor eat the service's stdin; they are not observed.
  if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) return;
  const stdin = D.stdin;
  const stderr = D.stderr;
  const stringify = JSON.stringify;
  const now = Date.now;

  // ---- the nonce: exactly the first line of stdin, byte by byte --------------------------------
  let nonce = '';
  {
    const b = new Uint8Array(1);
    while (nonce.length < 128) {
      let n;
      try {
        n = stdin.readSync(b);
      } catch (_e) {
        break;
      }
      if (n !== 1 || b[0] === 10) break;
      nonce += String.fromCharCode(b[0]);
    }
  }
  if (!/^[0-9a-f]{32}$/.test(nonce)) return;

  // ---- emitting ---------------------------------------------------------------------------------
  const prefix = '\x1eIGNITE-AUDIT ' + nonce + ' ';
  const ascii = (s) => s.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  const text = (v) => { try { return String(v); } catch (_e) { return '?'; } };
  const clip = (s, n) => (s.length > n ? s.slice(0, n) + '...' : s);
  function writeAll(line) {
    const buf = new Uint8Array(line.length);
    for (let i = 0; i < line.length; i++) buf[i] = line.charCodeAt(i);
    let off = 0;
    for (let tries = 0; off < buf.length && tries < 1000; tries++) {
      try {
        off += stderr.writeSync(buf.subarray(off));
      } catch (_e) {
        return;
      }
    }
  }
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
  let depth = 0;
  function record(ev) {
    if (ev) emit(ev[0], ev[1], ev[2], ev[3], ev[4]);
  }
  const skip = new Set(['length', 'name', 'prototype', 'arguments', 'caller']);
  function wrap(orig, describe) {
    const wrapped = function (...args) {
      if (depth === 0) {
        let ev;
        try { ev = describe.apply(this, args); } catch (_e) { ev = undefined; }
        try { record(ev); } catch (_e) { /* never let auditing break the call */ }
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
      try { Object.defineProperty(wrapped, k, Object.getOwnPropertyDescriptor(orig, k)); } catch (_e) { /* skip */ }
    }
    try { Object.defineProperty(wrapped, 'name', { value: orig.name }); } catch (_e) { /* skip */ }
    try { Object.defineProperty(wrapped, 'length', { value: orig.length }); } catch (_e) { /* skip */ }
    if (orig.prototype) wrapped.prototype = orig.prototype;
    return wrapped;
  }
  function hook(obj, name, describe) {
    if (!obj) return;
    const d = Object.getOwnPropertyDescriptor(obj, name);
    const orig = d ? (d.get ? d.get.call(obj) : d.value) : obj[name];
    if (typeof orig !== 'function') return;
    const wrapped = wrap(orig, describe);
    try {
      Object.defineProperty(obj, name, { value: wrapped, writable: true, configurable: true, enumerable: d ? d.enumerable : true });
    } catch (_e) {
      try { obj[name] = wrapped; } catch (_e2) { /* skip */ }
    }
    return wrapped;
  }

  // ---- paths ------------------------------------------------------------------------------------
  const quiet = /^\/(dev\/(null|zero|full|random|urandom|tty|stdin|stdout|stderr|fd\/.*)|proc\/(self|thread-self|\d+)\/fd\/.*)$/;
  let cwd = '/app';
  try { cwd = D.cwd(); } catch (_e) { /* no read permission for the working directory */ }
  function normalize(p) {
    const out = [];
    for (const part of p.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') out.pop(); else out.push(part);
    }
    return '/' + out.join('/');
  }
  function toPath(p) {
    if (typeof p === 'string') return p;
    if (p instanceof URL) return p.protocol === 'file:' ? decodeURIComponent(p.pathname) : null;
    return null;
  }
  function outside(p) {
    p = toPath(p);
    if (p === null || p === '') return null;
    const abs = normalize(p.startsWith('/') ? p : cwd + '/' + p);
    if (quiet.test(abs)) return null;
    if (abs === '/tmp' || abs.startsWith('/tmp/')) return null;
    return abs;
  }
  const fsEvent = (action, p, api) => {
    const abs = outside(p);
    return abs ? ['filesystem', action, abs, api] : undefined;
  };

  // ---- filesystem -------------------------------------------------------------------------------
  for (const suf of ['', 'Sync']) {
    const w = (name, action, arg = 0) => hook(D, name + suf, (...a) => fsEvent(action, a[arg], 'Deno.' + name + suf));
    for (const n of ['writeFile', 'writeTextFile', 'truncate', 'create']) w(n, 'write');
    w('copyFile', 'write', 1);
    w('mkdir', 'mkdir');
    w('remove', 'delete');
    w('symlink', 'symlink', 1);
    w('link', 'link', 1);
    for (const n of ['makeTempFile', 'makeTempDir']) {
      hook(D, n + suf, (o) => (o && o.dir ? fsEvent(n === 'makeTempDir' ? 'mkdir' : 'write', o.dir + '/x', 'Deno.' + n + suf) : undefined));
    }
    hook(D, 'rename' + suf, (from, to) => {
      const a = outside(from);
      const b = outside(to);
      if (!a && !b) return undefined;
      return ['filesystem', 'rename', b || a, 'Deno.rename' + suf + ': ' + text(toPath(from)) + ' -> ' + text(toPath(to))];
    });
    hook(D, 'open' + suf, (p, o) => (o && (o.write || o.append || o.create || o.createNew || o.truncate)
      ? fsEvent('write', p, 'Deno.open' + suf) : undefined));
  }

  // ---- network ----------------------------------------------------------------------------------
  const hostPort = (host, port) => {
    host = String(host === undefined || host === null || host === '' ? '127.0.0.1' : host).replace(/^\[(.*)\]$/, '$1');
    return (host.includes(':') ? '[' + host + ']' : host) + ':' + text(port);
  };
  function urlTarget(input) {
    let u;
    if (typeof input === 'string' || input instanceof URL) u = new URL(String(input));
    else if (input && typeof input === 'object' && typeof input.url === 'string') u = new URL(input.url);
    else return null;
    const port = u.port || ({ 'http:': 80, 'ws:': 80, 'https:': 443, 'wss:': 443 })[u.protocol];
    if (port === undefined) return null;
    return { target: hostPort(u.hostname, port), url: u.protocol + '//' + u.host + u.pathname };
  }
  const connEvent = (api) => (o) => (o && typeof o === 'object'
    ? ['network', 'connect', o.transport === 'unix' || o.path ? 'unix:' + text(o.path) : hostPort(o.hostname, o.port), api]
    : undefined);
  hook(D, 'connect', connEvent('Deno.connect'));
  hook(D, 'connectTls', connEvent('Deno.connectTls'));
  hook(D, 'resolveDns', (q, type) => ['network', 'dns', text(q), 'Deno.resolveDns ' + text(type)]);
  const urlEvent = (api) => (input) => {
    const r = urlTarget(input);
    return r ? ['network', 'connect', r.target, api + ' ' + r.url] : undefined;
  };
  hook(globalThis, 'fetch', urlEvent('fetch'));
  hook(globalThis, 'WebSocket', urlEvent('WebSocket'));
  hook(globalThis, 'WebSocketStream', urlEvent('WebSocketStream'));
  hook(globalThis, 'EventSource', urlEvent('EventSource'));

  // ---- processes --------------------------------------------------------------------------------
  // A Deno.Command starts a process at output()/outputSync()/spawn(): record it there.
  const commands = new WeakMap();
  const OrigCommand = D.Command;
  if (typeof OrigCommand === 'function') {
    const Wrapped = function Command(cmd, options) {
      if (!new.target) return Reflect.apply(OrigCommand, this, [cmd, options]);
      const obj = Reflect.construct(OrigCommand, [cmd, options], new.target === Wrapped ? OrigCommand : new.target);
      commands.set(obj, [cmd, options]);
      return obj;
    };
    Wrapped.prototype = OrigCommand.prototype;
    for (const m of ['output', 'outputSync', 'spawn']) {
      hook(OrigCommand.prototype, m, function () {
        const c = commands.get(this);
        if (!c) return undefined;
        const file = toPath(c[0]) || text(c[0]);
        const args = c[1] && Array.isArray(c[1].args) ? c[1].args.map(text) : [];
        return ['process', 'spawn', file, 'Deno.Command.' + m + ': ' + [file].concat(args).join(' '), file];
      });
    }
    try { Object.defineProperty(D, 'Command', { value: Wrapped, writable: true, configurable: true, enumerable: true }); } catch (_e) { /* skip */ }
  }
  hook(D, 'run', (o) => (o && Array.isArray(o.cmd) && o.cmd.length
    ? ['process', 'spawn', text(o.cmd[0]), 'Deno.run: ' + o.cmd.map(text).join(' '), text(o.cmd[0])] : undefined));
})();
