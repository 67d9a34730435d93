// Ignite runner for Node.js and Bun (pooled containers, see runner.hpp in the Ignite sources).
'use strict';
(function igniteRunner() {
  // 1: a warm container's runtime, announced on stderr when booted. 2: booted ahead by the
  // supervisor in reuse mode (supervisor.c, pre-boot), which needs no announcement.
  const mode = process.env.IGNITE_RUNNER;
  if (mode !== '1' && mode !== '2') return;
  try {
    if (!require('worker_threads').isMainThread) return;
  } catch (e) { /* no worker_threads: the main thread */ }
  delete process.env.IGNITE_RUNNER;
  // The supervisor's pre-boot preload (LD_AUDIT, first in the list) did its work at exec: the
  // job and what it starts must not load it.
  delete process.env.IGNITE_PREBOOT_FD;
  if (mode === '2' && process.env.LD_AUDIT) {
    const rest = process.env.LD_AUDIT.split(':').filter((p) => p !== '/opt/ignite/ignite-preboot.so');
    if (rest.length > 0) process.env.LD_AUDIT = rest.join(':'); else delete process.env.LD_AUDIT;
  }
  const fs = require('fs');
  // Child runtimes started with process.execArgv must not wait for a job of their own.
  const flag = typeof Bun !== 'undefined' ? '--preload' : '--require';
  for (let i = 0; i + 1 < process.execArgv.length; i++) {
    if (process.execArgv[i] === flag && process.execArgv[i + 1] === '/opt/ignite/runner-node.cjs') {
      try { process.execArgv.splice(i, 2); } catch (e) { /* read-only: leave it */ }
      break;
    }
  }
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const read = (buf, off, len) => {
    for (;;) {
      try {
        return fs.readSync(0, buf, off, len, null);
      } catch (e) {
        if (e && e.code === 'EAGAIN') { Atomics.wait(cell, 0, 0, 1); continue; }
        // A signal with a handler (Node.js's SIGUSR1) interrupts the read: wait on.
        if (e && e.code === 'EINTR') continue;
        throw e;
      }
    }
  };
  // Node creates the standard output streams, and loads the stream machinery services read
  // stdin with, on first use: let the boot pay for that, not the job (3-10 ms of it). stdin
  // itself stays untouched: creating it would make fd 0 non-blocking under the reads below.
  void process.stdout;
  void process.stderr;
  try {
    require('net');
    const { Readable } = require('stream');
    new Readable({ read() {} })[Symbol.asyncIterator]();
  } catch (e) { /* a runtime without them: nothing to warm */ }
  // stderr may be a non-blocking pipe that code the service preloads (NODE_OPTIONS) has just
  // filled: wait for room rather than die of EAGAIN with the ready line unwritten.
  const ready = Buffer.from(mode === '1' ? '\x1eIGNITE-READY\n' : '');
  for (let off = 0; off < ready.length;) {
    try {
      off += fs.writeSync(2, ready, off);
    } catch (e) {
      if (!e || e.code !== 'EAGAIN') throw e;
      Atomics.wait(cell, 0, 0, 1);
    }
  }
  let line = '';
  const one = Buffer.alloc(1);
  while (line.length < 20) {
    if (read(one, 0, 1) !== 1) process.exit(0);  // no job: the pool is draining
    if (one[0] === 10) break;
    line += String.fromCharCode(one[0]);
  }
  const size = Number(line);
  const body = Buffer.alloc(size);
  for (let got = 0; got < size;) {
    const n = read(body, got, size - got);
    if (n <= 0) process.exit(0);
    got += n;
  }
  // The supervisor booted this runtime with some variables changed (paths under /tmp, which
  // the job before could write; see supervisor.c): the job sees them as the container has them.
  for (const name of (process.env.IGNITE_RESTORE || '').split(',')) {
    if (!name) continue;
    const saved = process.env['IGNITE_SAVED_' + name];
    if (saved === undefined) delete process.env[name]; else process.env[name] = saved;
    delete process.env['IGNITE_SAVED_' + name];
  }
  delete process.env.IGNITE_RESTORE;
  const env = JSON.parse(body.toString('utf8'));
  for (const key of Object.keys(env)) process.env[key] = String(env[key]);
})();
