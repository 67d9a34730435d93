// TypeScript, run directly by Bun: reads the input JSON from stdin and greets.
interface Input {
  name?: string;
}

const text: string = (await Bun.stdin.text()).trim();
const input: Input = text ? (JSON.parse(text) as Input) : {};
const name: string = typeof input.name === "string" ? input.name : "World";
const greeting: string = process.env.GREETING ?? "Hello";
console.log(`${greeting}, ${name}!`);
console.log(JSON.stringify({ ok: true, runtime: "bun", version: Bun.version, name }));
