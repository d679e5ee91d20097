// Seals a file through the sealing component's own `sealer` resource, as
// transpiled by jco: no Rust, no wasmtime, only the component's interface.
//
//   node seal.mjs TRANSPILED_DIR INPUT OUTPUT KEY_HEX IV_HEX LEVEL
//
// Prints the object's SHA-256 as the component reported it.
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [dir, input, output, keyHex, ivHex, level] = process.argv.slice(2);
const { seal } = await import(pathToFileURL(join(dir, "sealing.js")).href);

const sealer = seal.Sealer.create(Buffer.from(keyHex, "hex"), Buffer.from(ivHex, "hex"), Number(level));
const source = openSync(input, "r");
const sink = openSync(output, "w");
// Odd-sized reads: the component must cut blocks on its own, like any host.
const chunk = Buffer.alloc(700_001);
for (;;) {
  const n = readSync(source, chunk, 0, chunk.length, null);
  if (n === 0) break;
  writeSync(sink, sealer.push(chunk.subarray(0, n)));
}
const end = sealer.finish();
writeSync(sink, end.tail);
closeSync(source);
closeSync(sink);
console.log(Buffer.from(end.summary.objectSha256).toString("hex"));
