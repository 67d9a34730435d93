// TypeScript, run directly by Deno: reads the input JSON from stdin and greets.
interface Input {
  name?: string;
}

const text: string = (await new Response(Deno.stdin.readable).text()).trim();
const input: Input = text ? (JSON.parse(text) as Input) : {};
const name: string = typeof input.name === "string" ? input.name : "World";
const greeting: string = Deno.env.get("GREETING") ?? "Hello";
console.log(`${greeting}, ${name}!`);
console.log(JSON.stringify({ ok: true, runtime: "deno", version: Deno.version.deno, name }));
