// Runs the translator bench (tests/bench/translate.rs built for wasm32-wasip1) under node's
// WASI, i.e. in V8 like workerd. Usage: node tests/bench/wasi.mjs <bench.wasm> <inputs dir> [--quick]
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [wasmPath, dir, ...rest] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: ['translate', '/inputs', ...rest], preopens: { '/inputs': dir }, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
