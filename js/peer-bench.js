// Peer benchmark: proves one circom statement with snarkjs (Groth16, bn128) and prints JSON
// timings. Driven by `zkcredit bench --peer`, which writes the input and compiles the circuit.
// Usage: node js/peer-bench.js <r1cs> <wasm> <ptau> <zkey-cache> <input.json> <runs>
//        node js/peer-bench.js --identical <r1cs> <zkey> <wtns> <runs> <proof-out.json>
//   (our exported R1CS, our key written as a zkey, our witness as .wtns: snarkjs proves
//    exactly our statement; the last proof and its public signals go to proof-out.json so
//    the caller checks them with its own verifier)
"use strict";
const fs = require("fs");
const snarkjs = require("snarkjs");

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function identical() {
  const [r1cs, zkey, wtnsFile, runsArg, out] = process.argv.slice(3);
  const runs = Number(runsArg || 5);
  const info = await snarkjs.r1cs.info(r1cs);
  const zkeyMem = { type: "mem", data: fs.readFileSync(zkey) };
  const wtns = { type: "mem", data: fs.readFileSync(wtnsFile) };
  const vk = await snarkjs.zKey.exportVerificationKey(zkeyMem);
  const proveMs = [], verifyMs = [];
  let last = null;
  for (let i = 0; i < runs; i++) {
    let t = process.hrtime.bigint();
    last = await snarkjs.groth16.prove(zkeyMem, wtns);
    proveMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    t = process.hrtime.bigint();
    const ok = await snarkjs.groth16.verify(vk, last.publicSignals, last.proof);
    verifyMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (!ok) throw new Error("snarkjs rejected its own proof");
  }
  fs.writeFileSync(out, JSON.stringify(last));
  console.log(JSON.stringify({
    constraints: Number(info.nConstraints),
    prove_median_ms: med(proveMs),
    prove_min_ms: Math.min(...proveMs),
    verify_median_ms: med(verifyMs),
    runs,
  }));
}

async function main() {
  if (process.argv[2] === "--identical") return identical();
  const [r1cs, wasm, ptau, zkey, inputFile, runsArg] = process.argv.slice(2);
  const runs = Number(runsArg || 5);
  const info = await snarkjs.r1cs.info(r1cs);
  let setupS = null;
  if (!fs.existsSync(zkey)) {
    const t = process.hrtime.bigint();
    await snarkjs.zKey.newZKey(r1cs, ptau, zkey + ".tmp");
    fs.renameSync(zkey + ".tmp", zkey);
    setupS = Number(process.hrtime.bigint() - t) / 1e9;
  }
  const input = JSON.parse(fs.readFileSync(inputFile, "utf8"));
  const zkeyMem = { type: "mem", data: fs.readFileSync(zkey) };
  const witnessMs = [], proveMs = [], verifyMs = [];
  const vk = await snarkjs.zKey.exportVerificationKey(zkey);
  for (let i = 0; i < runs; i++) {
    const wtns = { type: "mem" };
    let t = process.hrtime.bigint();
    await snarkjs.wtns.calculate(input, wasm, wtns);
    witnessMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    t = process.hrtime.bigint();
    const { proof, publicSignals } = await snarkjs.groth16.prove(zkeyMem, wtns);
    proveMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    t = process.hrtime.bigint();
    const ok = await snarkjs.groth16.verify(vk, publicSignals, proof);
    verifyMs.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (!ok) throw new Error("snarkjs rejected its own proof");
  }
  console.log(JSON.stringify({
    constraints: Number(info.nConstraints),
    setup_s: setupS,
    witness_ms: med(witnessMs),
    prove_median_ms: med(proveMs),
    prove_min_ms: Math.min(...proveMs),
    verify_median_ms: med(verifyMs),
    runs,
  }));
}
main().then(() => process.exit(0)).catch((e) => { console.error(e); process.exit(1); });
