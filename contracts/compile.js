// Compiles contracts/src/*.sol with the pinned solc-js (js/node_modules/solc, 0.8.28) into
// contracts/out/<Contract>.json = { abi, bytecode, deployedBytecode }.
// Usage: node contracts/compile.js          (write artifacts)
//        node contracts/compile.js --check  (fail if the committed artifacts are stale)
//        node contracts/compile.js --file F.sol --contract Name
//            (compile one self-contained file, e.g. a verifier generated from an imported
//             ceremony key, and print its artifact JSON on stdout; nothing is written)
//        ... --file F.sol --contract Name --no-yul-optimizer
//            (the same without the Yul optimizer: the halo2 verifier is one assembly block
//             that the Yul optimizer's inlining runs out of stack on)
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require(path.join(__dirname, "..", "js", "node_modules", "solc"));

const SRC = path.join(__dirname, "src");
const OUT = path.join(__dirname, "out");
const check = process.argv.includes("--check");

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const single = arg("--file");
const sources = {};
if (single) {
  sources[path.basename(single)] = { content: fs.readFileSync(single, "utf8") };
} else {
  for (const f of fs.readdirSync(SRC).sort()) {
    if (f.endsWith(".sol")) sources[f] = { content: fs.readFileSync(path.join(SRC, f), "utf8") };
  }
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: process.argv.includes("--no-yul-optimizer")
      ? { enabled: true, runs: 200, details: { yul: false } }
      : { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

if (single) {
  const name = arg("--contract");
  const c = output.contracts[path.basename(single)][name];
  if (!c) {
    console.error(`no contract ${name} in ${single}`);
    process.exit(1);
  }
  const artifact = { contractName: name, compiler: `solc ${solc.version()}`, abi: c.abi,
    bytecode: "0x" + c.evm.bytecode.object, deployedBytecode: "0x" + c.evm.deployedBytecode.object };
  // Exit once the artifact is flushed: to a pipe stdout is asynchronous, and exiting at
  // once cut it at 64 KiB (a generated halo2 verifier's artifact is larger).
  process.stdout.write(JSON.stringify(artifact) + "\n", () => process.exit(0));
  return;
}

let stale = [];
const wanted = ["Groth16Verifier", "ProviderRegistry", "LendingPool", "Halo2LendingPool", "OriginationRegistry", "PoseidonHasher"];
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!wanted.includes(name)) continue;
    const artifact = {
      contractName: name,
      sourceName: `contracts/src/${file}`,
      compiler: `solc ${solc.version()}`,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    const text = JSON.stringify(artifact, null, 2) + "\n";
    const dest = path.join(OUT, `${name}.json`);
    if (check) {
      const old = fs.existsSync(dest) ? fs.readFileSync(dest, "utf8") : "";
      if (old !== text) stale.push(dest);
    } else {
      fs.mkdirSync(OUT, { recursive: true });
      fs.writeFileSync(dest, text);
      console.log(`wrote ${dest} (${(c.evm.deployedBytecode.object.length / 2) | 0} bytes deployed)`);
    }
  }
}
if (check && stale.length) {
  console.error(`stale artifacts (run: node contracts/compile.js): ${stale.join(", ")}`);
  process.exit(1);
}
if (check) console.log("contract artifacts are fresh");
