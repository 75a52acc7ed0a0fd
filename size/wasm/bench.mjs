// The WebAssembly speed benchmark's driver, for Node.js 20 (no npm dependencies).
//
// It instantiates each module built from size/wasm with the `bench` feature (one per
// allocator; `make size` leaves the optimised ones in
// size/target/out/wasm/<allocator>.bench.opt.wasm), and times the module's
// `random_actions(max, ops, seed)` export with performance.now() for each largest block size
// M: a fresh instance per M, one warm-up run, then the median of --runs timed runs (taken in
// turns across the modules, so that other load on the machine falls on all alike). It prints
// nanoseconds per action and the ratio to talc's two WebAssembly forms (below 1: faster):
// talc's arena ("talc-arena") is the like-for-like reference of an arena allocator, talc's
// growing form ("talc-growing") that of one growing the memory with memory.grow; both ratios
// are printed for every module.
//
// random_actions returns a checksum that depends only on the random sequence, so every
// correct allocator returns the same one (2^31 and above: a check inside the module failed).
// A module that traps, or whose checksum differs from talc-arena's (or, without it, the most
// common one), is reported, and the exit status is then 1.
//
//   node size/wasm/bench.mjs [--ops N] [--runs N] [--seed N] [--max 200,1000,30000] [--tsv]
//                            [allocator=path/to/module.wasm ...]
//
// Only the speed builds export random_actions: the size builds (<allocator>.opt.wasm, no
// `bench` feature) export alloc, dealloc and realloc only, and are reported as errors here.
// Build one by hand with `cargo build --release --features talc-arena,bench` in size/wasm.
//
// With no modules named, it takes every *.bench.opt.wasm in size/target/out/wasm (the
// baseline has none: it cannot allocate). --tsv prints one line per measurement for size/report instead of a table:
// allocator, M, ns per action (or "-"), checksum (or "error: ...").

import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ARENA_REFERENCE = "talc-arena";
const GROWING_REFERENCE = "talc-growing";

/** The command line: options and modules. */
function parseArgs(argv) {
  const options = { ops: 200000, runs: 5, seed: 2024, maxima: [200, 1000, 30000], tsv: false };
  const modules = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    const count = (text) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n <= 0 || n > 0xffffffff) throw new Error(`${arg}: ${text} is not a count`);
      return n;
    };
    if (arg === "--ops") options.ops = count(value());
    else if (arg === "--runs") options.runs = count(value());
    else if (arg === "--seed") options.seed = count(value());
    else if (arg === "--max") options.maxima = value().split(",").map(count);
    else if (arg === "--tsv") options.tsv = true;
    else if (arg === "-h" || arg === "--help") {
      console.log("usage: node bench.mjs [--ops N] [--runs N] [--seed N] [--max 200,1000,30000] [--tsv] [name=module.wasm ...]");
      process.exit(0);
    } else if (arg.includes("=")) {
      const at = arg.indexOf("=");
      modules.push({ name: arg.slice(0, at), path: arg.slice(at + 1) });
    } else throw new Error(`unknown argument ${arg}`);
  }
  if (modules.length === 0) {
    const dir = join(dirname(fileURLToPath(import.meta.url)), "../target/out/wasm");
    const suffix = ".bench.opt.wasm";
    for (const file of readdirSync(dir).sort()) {
      if (file.endsWith(suffix) && file !== `none${suffix}`) {
        modules.push({ name: file.slice(0, -suffix.length), path: join(dir, file) });
      }
    }
  }
  return { options, modules };
}

/** The median of a list of numbers. */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Calls `random_actions` once: its checksum, or an `{ error }` when it trapped. */
function call(instance, max, options) {
  try {
    return instance.exports.random_actions(max, options.ops, options.seed) >>> 0;
  } catch (error) {
    return { error: String(error && error.message ? `${error.name}: ${error.message}` : error) };
  }
}

/**
 * Times every module at one M: a fresh instance each and a warm-up run (the JIT's tiers, the
 * memory grown), then the timed runs taken in turns, one run of each module per round in a
 * rotating order, so that a burst of other load on the machine falls on every module alike
 * rather than on one module's runs. Returns one result per module: { ns, checksum } (the
 * median run) or { error }.
 */
async function measureAll(loaded, max, options) {
  const states = [];
  for (const { name, compiled, error } of loaded) {
    const state = { name, max, times: [] };
    states.push(state);
    if (error !== undefined) {
      state.error = error;
      continue;
    }
    try {
      state.instance = await WebAssembly.instantiate(compiled, {});
    } catch (error) {
      state.error = `cannot instantiate: ${error.message}`;
      continue;
    }
    if (typeof state.instance.exports.random_actions !== "function") {
      state.error = "no random_actions export (a size build? the speed build has the `bench` feature)";
      continue;
    }
    const checksum = call(state.instance, max, options);
    if (typeof checksum === "object") state.error = checksum.error;
    else state.checksum = checksum;
  }
  for (let round = 0; round < options.runs; round++) {
    for (let i = 0; i < states.length; i++) {
      const state = states[(i + round) % states.length];
      if (state.error !== undefined) continue;
      const start = performance.now();
      const checksum = call(state.instance, max, options);
      state.times.push(performance.now() - start);
      if (typeof checksum === "object") state.error = checksum.error;
      else if (checksum !== state.checksum) {
        state.error = `checksum ${checksum} on run ${round + 1}, ${state.checksum} on the warm-up`;
      }
    }
  }
  return states.map(({ name, times, checksum, error }) => {
    if (error !== undefined) return { name, max, error };
    if (checksum === 0xffffffff) return { name, max, error: "a block's bytes changed (checksum 0xffffffff)" };
    if (checksum === 0xfffffffe) return { name, max, error: "the allocator returned null (checksum 0xfffffffe)" };
    return { name, max, ns: (median(times) * 1e6) / options.ops, checksum };
  });
}

/** Marks results whose checksum is not the reference's (or the most common) for their M. */
function verify(results, maxima) {
  for (const max of maxima) {
    const ok = results.filter((r) => r.max === max && r.error === undefined);
    let expected = ok.find((r) => r.name === ARENA_REFERENCE)?.checksum;
    if (expected === undefined && ok.length > 0) {
      const counts = new Map();
      for (const r of ok) counts.set(r.checksum, (counts.get(r.checksum) ?? 0) + 1);
      expected = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    }
    for (const r of ok) {
      if (r.checksum !== expected) r.error = `checksum ${r.checksum}, expected ${expected}`;
    }
  }
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`bench.mjs: ${error.message}`);
    process.exit(2);
  }
  const { options, modules } = args;
  if (modules.length === 0) {
    console.error("bench.mjs: no modules (build them with `make size`, or name them: allocator=file.bench.opt.wasm)");
    process.exit(2);
  }
  const loaded = [];
  for (const { name, path } of modules) {
    try {
      loaded.push({ name, compiled: await WebAssembly.compile(readFileSync(path)) });
    } catch (error) {
      loaded.push({ name, error: `cannot load ${path}: ${error.message}` });
    }
  }
  const byMax = [];
  for (const max of options.maxima) {
    byMax.push(await measureAll(loaded, max, options));
    if (!options.tsv) process.stderr.write(".");
  }
  // Module by module, M by M, as the table reads.
  const results = loaded.flatMap((_, i) => byMax.map((row) => row[i]));
  if (!options.tsv) process.stderr.write("\n");
  verify(results, options.maxima);

  if (options.tsv) {
    for (const r of results) {
      const ns = r.error === undefined ? r.ns.toFixed(2) : "-";
      const checksum = r.error === undefined ? String(r.checksum) : `error: ${r.error.replace(/[\t\n]/g, " ")}`;
      console.log([r.name, r.max, ns, checksum].join("\t"));
    }
  } else {
    const reference = (name, max) => results.find((r) => r.name === name && r.max === max && r.error === undefined)?.ns;
    const ratio = (ns, name, max) => {
      const ref = reference(name, max);
      return ref === undefined ? "-" : (ns / ref).toFixed(2);
    };
    console.log(`random_actions: ${options.ops} actions per run, median of ${options.runs} runs after a warm-up, seed ${options.seed}`);
    console.log(["allocator".padEnd(20), "M".padStart(6), "ns/action".padStart(10), "x talc-arena".padStart(13), "x talc-growing".padStart(15), "  checksum"].join(" "));
    for (const r of results) {
      const cells = r.error === undefined
        ? [r.ns.toFixed(1).padStart(10), ratio(r.ns, ARENA_REFERENCE, r.max).padStart(13), ratio(r.ns, GROWING_REFERENCE, r.max).padStart(15), `  ${r.checksum}`]
        : [`  FAILED: ${r.error}`];
      console.log([r.name.padEnd(20), String(r.max).padStart(6), ...cells].join(" "));
    }
  }
  process.exit(results.some((r) => r.error !== undefined) ? 1 : 0);
}

main();
