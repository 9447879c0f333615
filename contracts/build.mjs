// build.mjs - compiles contracts/*.sol with the pinned solc-js into
// build/contracts/<Name>.json:
//   {"contractName", "abi", "bytecode": "0x..", "deployedBytecode": "0x..",
//    "linkReferences": {<source>: {<library>: [{start, length}]}}}
// (linkReferences are those of the creation bytecode, in solc's format;
// "deployedLinkReferences" holds the runtime ones).
//
// Usage: node contracts/build.mjs [OUTDIR]   (default build/contracts)
//
// The settings are fixed (optimizer, runs, EVM version, no metadata hash,
// no CBOR trailer), so a build is byte-for-byte reproducible.  A compile
// error prints solc's message with file:line:column and exits 1.  The
// storage layout of the gateways is part of the protocol (the other side
// proves their outbox and inbox slots) and is checked after compiling.
import { createRequire } from "node:module";
import { readFileSync, readdirSync, writeFileSync, renameSync, mkdirSync, unlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const require = createRequire(join(root, "deploy", "package.json"));

const SOLC_VERSION = "0.8.30";
const outDir = resolve(process.argv[2] ?? join(root, "build", "contracts"));

function fail(msg) {
  process.stderr.write(`contracts: ${msg}\n`);
  process.exit(1);
}

let solc;
try {
  solc = require("solc");
} catch (e) {
  fail(`cannot load solc from deploy/node_modules (run 'make deps'): ${e.message}`);
}
if (!solc.version().startsWith(SOLC_VERSION + "+")) {
  fail(`solc ${solc.version()} found, ${SOLC_VERSION} is pinned (deploy/package-lock.json)`);
}

const sources = {};
for (const f of readdirSync(here).filter((f) => f.endsWith(".sol")).sort()) {
  sources[f] = { content: readFileSync(join(here, f), "utf8") };
}
if (Object.keys(sources).length === 0) fail(`no .sol files in ${here}`);

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: {
      "*": {
        "*": [
          "abi",
          "evm.bytecode.object",
          "evm.bytecode.linkReferences",
          "evm.deployedBytecode.object",
          "evm.deployedBytecode.linkReferences",
          "storageLayout",
        ],
      },
    },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
let errors = 0;
for (const e of output.errors ?? []) {
  const text = (e.formattedMessage ?? e.message).trimEnd();
  if (e.severity === "error") {
    errors++;
    process.stderr.write(`contracts/${text}\n`);
  } else {
    process.stderr.write(`contracts/${text}\n`);
  }
}
if (errors > 0) fail(`${errors} compile error(s)`);

// The storage slots the protocol depends on (mosaic-protocol.md section 1.4).
const LAYOUT = {
  common: {
    organization: 0, stateRootProvider: 3, encodedGatewayPath: 4, remoteGateway: 5, bounty: 6,
    proposedBounty: 7, proposedBountyUnlockHeight: 8, messageBox: 9, messages: 11, storageRoots: 12,
    inboxActiveProcess: 13, outboxActiveProcess: 14,
  },
  EIP20Gateway: { activated: 15, stakeVault: 15, valueToken: 16, baseToken: 17, burner: 18, stakes: 19, unstakes: 20 },
  EIP20CoGateway: { utilityToken: 15, valueToken: 16, burner: 17, mints: 18, redeems: 19 },
  Anchor: { organization: 0, stateRoots: 3, remoteChainId: 4, coAnchor: 5 },
};

function checkLayout(name, layout) {
  const want = name === "Anchor" ? LAYOUT.Anchor : { ...LAYOUT.common, ...LAYOUT[name] };
  const have = new Map((layout?.storage ?? []).map((s) => [s.label, Number(s.slot)]));
  for (const [label, slot] of Object.entries(want)) {
    if (have.get(label) !== slot) {
      fail(`${name}: storage variable '${label}' is at slot ${have.get(label)}, the protocol needs ${slot}`);
    }
  }
}

mkdirSync(outDir, { recursive: true });
const written = new Set();
for (const [file, contracts] of Object.entries(output.contracts ?? {})) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
    if (written.has(name)) fail(`two contracts named ${name}`);
    if (LAYOUT[name]) checkLayout(name, c.storageLayout);
    const artifact = {
      contractName: name,
      sourceName: file,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      linkReferences: c.evm.bytecode.linkReferences ?? {},
      deployedLinkReferences: c.evm.deployedBytecode.linkReferences ?? {},
      compiler: { version: solc.version(), settings: input.settings },
    };
    const path = join(outDir, `${name}.json`);
    writeFileSync(path + ".tmp", JSON.stringify(artifact, null, 1) + "\n");
    renameSync(path + ".tmp", path);
    written.add(name);
  }
}
for (const f of readdirSync(outDir)) {
  if (f.endsWith(".json") && !written.has(f.slice(0, -5))) unlinkSync(join(outDir, f));
}
process.stdout.write(`contracts: ${written.size} artifacts in ${outDir}\n`);
