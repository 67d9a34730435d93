// Ignite runner for Deno (pooled containers, see runner.hpp in the Ignite sources).
await (async () => {
  const D = globalThis.Deno;
  if (!D || !D.stdin || !D.stderr) return;
  if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) return;
  // 1: a warm container's runtime, announced on stderr when booted. 2: booted ahead by the
  // supervisor in reuse mode (supervisor.c, pre-boot), which needs no announcement.
  const mode = D.env.get('IGNITE_RUNNER');
  if (mode !== '1' && mode !== '2') return;
  D.env.delete('IGNITE_RUNNER');
  // The supervisor's pre-boot preload (LD_AUDIT, first in the list) did its work at exec: the
  // job and what it starts must not load it.
  D.env.delete('IGNITE_PREBOOT_FD');
  const audit = D.env.get('LD_AUDIT');
  if (mode === '2' && audit) {
    const rest = audit.split(':').filter((p) => p !== '/opt/ignite/ignite-preboot.so');
    if (rest.length > 0) D.env.set('LD_AUDIT', rest.join(':')); else D.env.delete('LD_AUDIT');
  }
  // Deno loads the web streams and fetch body machinery on first use, which services reading
  // stdin with `new Response(Deno.stdin.readable)` would otherwise pay per job (~15 ms).
  try {
    await new Response(new Blob(['']).stream()).text();
  } catch (_e) { /* nothing to warm */ }
  if (mode === '1') D.stderr.writeSync(new TextEncoder().encode('\x1eIGNITE-READY\n'));
  // A signal with a handler interrupts the read: wait on.
  const read = (buf) => {
    for (;;) {
      try {
        return D.stdin.readSync(buf);
      } catch (e) {
        if (!(e instanceof D.errors.Interrupted)) throw e;
      }
    }
  };
  let line = '';
  const one = new Uint8Array(1);
  while (line.length < 20) {
    if (read(one) !== 1) D.exit(0);
    if (one[0] === 10) break;
    line += String.fromCharCode(one[0]);
  }
  const size = Number(line);
  const body = new Uint8Array(size);
  for (let got = 0; got < size;) {
    const n = read(body.subarray(got));
    if (n === null || n <= 0) D.exit(0);
    got += n;
  }
  // The supervisor booted this runtime with some variables changed (paths under /tmp, which
  // the job before could write, and DENO_EMIT_CACHE_MODE; see supervisor.c): the job sees them
  // as the container has them (Deno keeps the boot's DENO_DIR: its caches stay in memory).
  for (const name of (D.env.get('IGNITE_RESTORE') ?? '').split(',')) {
    if (!name) continue;
    const saved = D.env.get('IGNITE_SAVED_' + name);
    if (saved === undefined) D.env.delete(name); else D.env.set(name, saved);
    D.env.delete('IGNITE_SAVED_' + name);
  }
  D.env.delete('IGNITE_RESTORE');
  const env = JSON.parse(new TextDecoder().decode(body));
  for (const key of Object.keys(env)) D.env.set(key, String(env[key]));
})();
