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
  // The supervisor booted this runtime with the variables that name a path under /tmp moved
  // aside (the job before could write there; DENO_DIR keeps the boot's value inside Deno): the
  // job sees them as the container has them.
  for (const [key, value] of Object.entries(D.env.toObject())) {
    if (!key.startsWith('IGNITE_SAVED_')) continue;
    D.env.set(key.slice(13), value);
    D.env.delete(key);
  }
  const env = JSON.parse(new TextDecoder().decode(body));
  for (const key of Object.keys(env)) D.env.set(key, String(env[key]));
})();
