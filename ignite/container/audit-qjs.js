// Ignite audit bootstrap for QuickJS (loaded with qjs --std -I before the service's entry, in
// audit mode only). It replaces the `std` and `os` globals with copies whose file, process and
// network functions record each attempt as one line on stderr:
//   \x1eIGNITE-AUDIT <nonce> <json>\n
// and then call the original, so the kernel decides what happens. The nonce is the first line
// of stdin, written there by the engine; it is read here before any service code runs and kept
// only in this closure. A module that imports 'std' or 'os' itself gets the originals, and code
// in the same process can bypass the hooks.
(function igniteAudit() {
  var realStd = globalThis.std;
  var realOs = globalThis.os;
  if (!realStd || !realOs) return;
  var read = realOs.read;
  var write = realOs.write;
  var stringify = JSON.stringify;
  var now = Date.now;

  // ---- the nonce: exactly the first line of stdin, byte by byte (unbuffered) ------------------
  var nonce = '';
  var one = new ArrayBuffer(1);
  var oneView = new Uint8Array(one);
  while (nonce.length < 128) {
    var n = read(0, one, 0, 1);
    if (n !== 1 || oneView[0] === 10) break;
    nonce += String.fromCharCode(oneView[0]);
  }
  if (!/^[0-9a-f]{32}$/.test(nonce)) return;

  // ---- emitting ---------------------------------------------------------------------------------
  var prefix = '\x1eIGNITE-AUDIT ' + nonce + ' ';
  function ascii(s) {
    return s.replace(/[\u007f-\uffff]/g, function (c) { return '\\u' + ('000' + c.charCodeAt(0).toString(16)).slice(-4); });
  }
  function text(v) { try { return String(v); } catch (e) { return '?'; } }
  function clip(s, n) { return s.length > n ? s.slice(0, n) + '...' : s; }
  function writeAll(line) {
    var buf = new ArrayBuffer(line.length);
    var view = new Uint8Array(buf);
    for (var i = 0; i < line.length; i++) view[i] = line.charCodeAt(i);
    var off = 0;
    for (var tries = 0; off < line.length && tries < 1000; tries++) {
      var w = write(2, buf, off, line.length - off);
      if (w <= 0) return;
      off += w;
    }
  }
  function emit(ev) {
    var limit = 1000;
    for (;;) {
      var rec = { type: ev[0], action: ev[1], target: clip(text(ev[2]), limit), time: now(), details: clip(text(ev[3]), limit) };
      if (ev[4] !== undefined) rec.program = clip(text(ev[4]), limit);
      var line = prefix + ascii(stringify(rec)) + '\n';
      if (line.length < 3800 || limit < 20) { writeAll(line); return; }
      limit = limit >> 1;
    }
  }
  var depth = 0;
  function wrap(orig, describe) {
    return function () {
      var args = Array.prototype.slice.call(arguments);
      if (depth === 0) {
        var ev;
        try { ev = describe.apply(null, args); } catch (e) { ev = undefined; }
        try { if (ev) emit(ev); } catch (e) { /* never let auditing break the call */ }
      }
      depth++;
      try {
        return orig.apply(this, args);
      } finally {
        depth--;
      }
    };
  }

  // ---- paths ------------------------------------------------------------------------------------
  var quiet = /^\/(dev\/(null|zero|full|random|urandom|tty|stdin|stdout|stderr|fd\/.*)|proc\/(self|thread-self|\d+)\/fd\/.*)$/;
  function normalize(p) {
    var out = [];
    var parts = p.split('/');
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (part === '' || part === '.') continue;
      if (part === '..') out.pop(); else out.push(part);
    }
    return '/' + out.join('/');
  }
  function outside(p) {
    if (typeof p !== 'string' || p === '') return null;
    var abs = p;
    if (abs.charAt(0) !== '/') abs = realOs.getcwd()[0] + '/' + abs;
    abs = normalize(abs);
    if (quiet.test(abs)) return null;
    var slash = abs.lastIndexOf('/');
    var dir = realOs.realpath(slash > 0 ? abs.slice(0, slash) : '/');
    if (dir && dir[1] === 0 && typeof dir[0] === 'string') {
      abs = (dir[0] === '/' ? '' : dir[0]) + '/' + abs.slice(slash + 1);
    }
    if (abs === '/tmp' || abs.indexOf('/tmp/') === 0) return null;
    return abs;
  }
  function fsEvent(action, p, api) {
    var abs = outside(p);
    return abs ? ['filesystem', action, abs, api] : undefined;
  }
  var O_WRITE = realOs.O_WRONLY | realOs.O_RDWR | realOs.O_CREAT | realOs.O_TRUNC | realOs.O_APPEND;

  // ---- the replacement globals -----------------------------------------------------------------
  function copy(ns) {
    var out = {};
    var keys = Object.getOwnPropertyNames(ns);
    for (var i = 0; i < keys.length; i++) out[keys[i]] = ns[keys[i]];
    return out;
  }
  var std = copy(realStd);
  var os = copy(realOs);
  std.open = wrap(realStd.open, function (p, mode) {
    return /[wa+]/.test(text(mode)) ? fsEvent('write', p, 'std.open ' + text(mode)) : undefined;
  });
  std.popen = wrap(realStd.popen, function (command) {
    return ['process', 'spawn', text(command), 'std.popen (shell): ' + text(command), text(command).trim().split(/\s+/)[0]];
  });
  std.urlGet = wrap(realStd.urlGet, function (url) {
    var m = /^(https?):\/\/(\[[^\]]*\]|[^/:?#]*)(?::(\d+))?/i.exec(text(url));
    if (!m) return undefined;
    var port = m[3] || (m[1].toLowerCase() === 'https' ? '443' : '80');
    return ['network', 'connect', m[2] + ':' + port, 'std.urlGet ' + text(url)];
  });
  os.open = wrap(realOs.open, function (p, flags) {
    return (flags & O_WRITE) !== 0 ? fsEvent('write', p, 'os.open') : undefined;
  });
  os.mkdir = wrap(realOs.mkdir, function (p) { return fsEvent('mkdir', p, 'os.mkdir'); });
  os.remove = wrap(realOs.remove, function (p) { return fsEvent('delete', p, 'os.remove'); });
  os.symlink = wrap(realOs.symlink, function (target, linkpath) { return fsEvent('symlink', linkpath, 'os.symlink'); });
  os.rename = wrap(realOs.rename, function (from, to) {
    var a = outside(from);
    var b = outside(to);
    if (!a && !b) return undefined;
    return ['filesystem', 'rename', b || a, 'os.rename: ' + text(from) + ' -> ' + text(to)];
  });
  os.exec = wrap(realOs.exec, function (args) {
    if (!Array.isArray(args) || !args.length) return undefined;
    return ['process', 'spawn', text(args[0]), 'os.exec: ' + args.map(text).join(' '), text(args[0])];
  });
  globalThis.std = std;
  globalThis.os = os;
})();
