// QuickJS script (run with qjs --std, so `std` and `os` are globals): reads the input JSON from
// stdin and greets.
const text = std.in.readAsString().trim();
const input = text ? JSON.parse(text) : {};
const name = input && typeof input.name === "string" ? input.name : "World";
const greeting = std.getenv("GREETING") || "Hello";
print(`${greeting}, ${name}!`);
print(JSON.stringify({ ok: true, runtime: "quickjs", name }));
