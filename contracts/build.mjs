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
//
// FOR TESTS ONLY, OUTDIR/v010/ receives the same set with EIP20Gateway and
// EIP20CoGateway in the Mosaic 0.10.0 layout (mosaic-protocol.md 1.3, 1.4):
// no proven-heights ring buffer, so the message box sits at slots 7/8; the
// first nonce of a sender is 1; MESSAGE_BOX_OFFSET() is not a getter (a call
// reverts); the constructors lack _maxStorageRootItems.  The variant is not a
// second copy of the sources: it is compiled from contracts/*.sol with the
// lines marked `// @v010: <line>` replaced by <line> (same indentation) and
// the lines marked `// @v010-drop` left out; nothing else differs.
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

const OUTPUTS = [
  "abi",
  "evm.bytecode.object",
  "evm.bytecode.linkReferences",
  "evm.deployedBytecode.object",
  "evm.deployedBytecode.linkReferences",
  "storageLayout",
];

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": OUTPUTS } },
  },
};

function compile(what, inp) {
  const out = JSON.parse(solc.compile(JSON.stringify(inp)));
  let errors = 0;
  for (const e of out.errors ?? []) {
    const text = (e.formattedMessage ?? e.message).trimEnd();
    if (e.severity === "error") errors++;
    process.stderr.write(`contracts/${what}${text}\n`);
  }
  if (errors > 0) fail(`${what}${errors} compile error(s)`);
  return out;
}

const output = compile("", input);

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

// 0.10.0: the same without the ring buffer (slots 1-2), everything above
// it two slots lower; the message box at 7 (outbox) and 8 (inbox).
function layoutV010(name) {
  const want = {};
  for (const [label, slot] of Object.entries({ ...LAYOUT.common, ...LAYOUT[name] })) {
    want[label] = slot >= 3 ? slot - 2 : slot;
  }
  if (want.messageBox !== 7) fail("layoutV010: the message box must be at slot 7");
  return want;
}

function checkLayout(name, layout, variant) {
  const want = variant ? layoutV010(name)
    : name === "Anchor" ? LAYOUT.Anchor : { ...LAYOUT.common, ...LAYOUT[name] };
  const have = new Map((layout?.storage ?? []).map((s) => [s.label, Number(s.slot)]));
  const tag = variant ? ` (${variant})` : "";
  for (const [label, slot] of Object.entries(want)) {
    if (have.get(label) !== slot) {
      fail(`${name}${tag}: storage variable '${label}' is at slot ${have.get(label)}, the protocol needs ${slot}`);
    }
  }
  if (variant && (have.has("items") || have.has("index"))) {
    fail(`${name}${tag}: still has the proven-heights ring buffer`);
  }
}

function toArtifact(name, file, c, settings, variant) {
  const a = {
    contractName: name,
    sourceName: file,
    abi: c.abi,
    bytecode: "0x" + c.evm.bytecode.object,
    deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    linkReferences: c.evm.bytecode.linkReferences ?? {},
    deployedLinkReferences: c.evm.deployedBytecode.linkReferences ?? {},
    compiler: { version: solc.version(), settings },
  };
  if (variant) a.variant = variant;
  return a;
}

function writeArtifacts(dir, artifacts) {
  mkdirSync(dir, { recursive: true });
  for (const [name, a] of artifacts) {
    const path = join(dir, `${name}.json`);
    writeFileSync(path + ".tmp", JSON.stringify(a, null, 1) + "\n");
    renameSync(path + ".tmp", path);
  }
  for (const f of readdirSync(dir)) {
    if (f.endsWith(".json") && !artifacts.has(f.slice(0, -5))) unlinkSync(join(dir, f));
  }
}

const artifacts = new Map();
for (const [file, contracts] of Object.entries(output.contracts ?? {})) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
    if (artifacts.has(name)) fail(`two contracts named ${name}`);
    if (LAYOUT[name]) checkLayout(name, c.storageLayout);
    artifacts.set(name, toArtifact(name, file, c, input.settings));
  }
}
writeArtifacts(outDir, artifacts);

// ---- the 0.10.0-layout variant (tests only; see the top of this file) ----
const V010 = "0.10.0 layout (tests only)";
const V010_MARK = /^(\s*)(.*?)\s*\/\/ @v010(.*)$/;
let marks = 0;
function v010Source(file, text) {
  const out = [];
  text.split("\n").forEach((line, i) => {
    const m = V010_MARK.exec(line);
    if (!m) return out.push(line);
    marks++;
    if (m[3].startsWith("-drop")) return;
    if (!m[3].startsWith(": ") || m[3].length <= 2) {
      fail(`${file}:${i + 1}: a @v010 marker is '// @v010: <line>' or '// @v010-drop'`);
    }
    out.push(m[1] + m[3].slice(2));
  });
  return out.join("\n");
}
const vsources = {};
for (const [f, s] of Object.entries(sources)) vsources[f] = { content: v010Source(f, s.content) };
if (marks === 0) fail("no @v010 markers in contracts/*.sol");
const VARIANTS = { "EIP20Gateway.sol": "EIP20Gateway", "EIP20CoGateway.sol": "EIP20CoGateway" };
const vsel = {};
for (const [f, name] of Object.entries(VARIANTS)) vsel[f] = { [name]: OUTPUTS };
const vinput = { ...input, sources: vsources, settings: { ...input.settings, outputSelection: vsel } };
const voutput = compile("(v010) ", vinput);
const vartifacts = new Map(artifacts);
for (const [file, name] of Object.entries(VARIANTS)) {
  const c = voutput.contracts?.[file]?.[name];
  if (!c?.evm?.bytecode?.object) fail(`(v010) ${name}: no bytecode`);
  checkLayout(name, c.storageLayout, "v010");
  if (c.abi.some((e) => e.name === "MESSAGE_BOX_OFFSET")) fail(`(v010) ${name}: MESSAGE_BOX_OFFSET() is still a getter`);
  const ctor = c.abi.find((e) => e.type === "constructor");
  if (!ctor || ctor.inputs.some((p) => p.name === "_maxStorageRootItems")) {
    fail(`(v010) ${name}: the constructor still takes _maxStorageRootItems`);
  }
  vartifacts.set(name, toArtifact(name, file, c, vinput.settings, V010));
}
writeArtifacts(join(outDir, "v010"), vartifacts);
process.stdout.write(`contracts: ${artifacts.size} artifacts in ${outDir}, the 0.10.0-layout set in ${join(outDir, "v010")}\n`);
