#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU) on .npy inputs.
//
//   node ort_run.js MODEL.onnx OUT_DIR NAME=IN.npy ...   writes OUT_DIR/<output name>.npy
//   node ort_run.js --check                               exits 0 when onnxruntime-node loads
//
// onnxruntime-node is taken from $MSDD_ORT_MODULE, else from third_party/ort/node_modules
// (scripts/install-peers.sh), else from node's usual module path.
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  const candidates = [process.env.MSDD_ORT_MODULE,
    path.join(__dirname, '..', '..', 'third_party', 'ort', 'node_modules', 'onnxruntime-node'),
    'onnxruntime-node'].filter(Boolean);
  const errors = [];
  for (const c of candidates) {
    try { return require(c); } catch (e) { errors.push(`${c}: ${e.message.split('\n')[0]}`); }
  }
  throw new Error(`onnxruntime-node not found (run scripts/install-peers.sh): ${errors.join('; ')}`);
}

const DTYPES = { // npy descr -> [ort type, typed array]
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
  '<i4': ['int32', Int32Array], '<i8': ['int64', BigInt64Array], '|b1': ['bool', Uint8Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.subarray(0, 6).toString('latin1') !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = buf.subarray(major === 1 ? 10 : 12, start).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new Error(`${file}: bad .npy header ${header}`);
  if (fortran[1] === 'True') throw new Error(`${file}: Fortran-ordered arrays are not supported`);
  const dt = DTYPES[descr[1]];
  if (!dt) throw new Error(`${file}: unsupported dtype ${descr[1]}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const bytes = buf.subarray(start, start + count * dt[1].BYTES_PER_ELEMENT);
  if (bytes.length !== count * dt[1].BYTES_PER_ELEMENT) throw new Error(`${file}: truncated data`);
  const data = new dt[1](count);
  new Uint8Array(data.buffer).set(bytes);
  return { type: dt[0], data: dt[0] === 'bool' ? Array.from(data, Boolean) : data, dims };
}

function writeNpy(file, tensor) {
  const entry = Object.entries(DTYPES).find(([, v]) => v[0] === tensor.type);
  if (!entry) throw new Error(`output ${file}: unsupported type ${tensor.type}`);
  const shape = tensor.dims.length === 1 ? `(${tensor.dims[0]},)` : `(${tensor.dims.join(', ')})`;
  let header = `{'descr': '${entry[0]}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((header.length + 10) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const data = tensor.type === 'bool' ? Uint8Array.from(tensor.data, Number) : tensor.data;
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

async function main() {
  const args = process.argv.slice(2);
  const ort = loadOrt();
  if (args[0] === '--check') return;
  if (args.length < 2) throw new Error('usage: ort_run.js MODEL.onnx OUT_DIR NAME=IN.npy ...');
  const [model, outDir, ...pairs] = args;
  const feeds = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`bad input ${p}: expected NAME=FILE.npy`);
    const t = readNpy(p.slice(eq + 1));
    feeds[p.slice(0, eq)] = new ort.Tensor(t.type, t.data, t.dims);
  }
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
  const results = await session.run(feeds);
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, tensor] of Object.entries(results)) writeNpy(path.join(outDir, `${name}.npy`), tensor);
}

main().catch((e) => { console.error(`ort_run: ${e.message}`); process.exit(1); });
