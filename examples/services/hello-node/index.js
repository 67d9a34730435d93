// Reads the input JSON from stdin (Ignite also sets IGNITE_INPUT for small inputs), prints a
// greeting and a JSON result.
async function readInput() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8").trim();
  return text ? JSON.parse(text) : {};
}

readInput().then((input) => {
  const name = input && typeof input.name === "string" ? input.name : "World";
  const greeting = process.env.GREETING || "Hello";
  console.log(`${greeting}, ${name}!`);
  console.log(JSON.stringify({ ok: true, runtime: "node", version: process.versions.node, name }));
}).catch((err) => {
  console.error(`invalid input: ${err.message}`);
  process.exit(2);
});
