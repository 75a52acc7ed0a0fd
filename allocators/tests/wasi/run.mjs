// Runs a WebAssembly test binary built for `wasm32-wasip1` under Node.js's WASI (Node 20 or
// later): what `make test-wasm` gives cargo as the runner of that target
// (CARGO_TARGET_WASM32_WASIP1_RUNNER), so `cargo test --target wasm32-wasip1` runs the tests
// in Node like native ones. The binary's arguments follow its path; its exit status is the
// process's.
import { readFile } from 'node:fs/promises';
import process, { argv, env } from 'node:process';
import { WASI } from 'node:wasi';

const [binary, ...args] = argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [binary, ...args],
  env,
  preopens: { '/': '/' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(binary));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
