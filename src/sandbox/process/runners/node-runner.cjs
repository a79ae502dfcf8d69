'use strict';
// One-shot runner: waits until the host says go on fd 4 (the program's
// arguments, each ending in NUL, then EOF), then runs /run/codemode/main.cjs
// (CommonJS) or, when the code needs it (import/export, top-level await),
// main.mjs (ESM). An uncaught error is printed without runner frames and
// reported as JSON on fd 3.
const fs = require('node:fs');
const vm = require('node:vm');
const Module = require('node:module');

// The code's directory: /run/codemode in the sandbox, a host directory when unsandboxed.
const RUN_DIR = process.env.CODEMODE_RUN_DIR || '/run/codemode';
delete process.env.CODEMODE_RUN_DIR;
const MAIN_CJS = `${RUN_DIR}/main.cjs`;
const MAIN_MJS = `${RUN_DIR}/main.mjs`;
const MAY_BE_ESM = /\bawait\b|\bimport\b|\bexport\b/;
const USER_FRAME = new RegExp(
  `${RUN_DIR.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/main\\.(?:c|m)?[jt]s:(\\d+)(?::(\\d+))?`,
);
const ESM_ONLY =
  /await is only valid|Cannot use import statement|Unexpected token 'export'|import\.meta|Cannot use 'import\.meta'/;

function cleanStack(err) {
  const stack = err && typeof err.stack === 'string' ? err.stack : String(err);
  return stack
    .split('\n')
    .filter(
      (l) =>
        !/node-runner\.cjs|node:internal|\(node:vm|at new Script|at Module\._compile|at Object\.<anonymous> \(node:/.test(
          l,
        ),
    )
    .join('\n');
}

let reported = false;
function report(err) {
  if (reported) return;
  reported = true;
  const isError = err instanceof Error || (err && typeof err === 'object' && 'stack' in err);
  const stack = cleanStack(err);
  const m = USER_FRAME.exec(isError ? String(err.stack) : '');
  const record = {
    type: isError ? String(err.name || (err.constructor && err.constructor.name) || 'Error') : 'UncaughtValue',
    message: isError ? String(err.message) : `Uncaught ${typeof err}: ${safeString(err)}`,
    line: m ? Number(m[1]) : null,
    column: m && m[2] ? Number(m[2]) : null,
    traceback: stack,
  };
  process.stderr.write((isError ? stack : record.message) + '\n');
  try {
    fs.writeSync(3, JSON.stringify(record));
  } catch {
    // no channel: the stderr text still says what happened
  }
}

function safeString(v) {
  try {
    return typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function fail(err) {
  report(err);
  process.exitCode = 1;
  // Let stdout drain before leaving.
  setImmediate(() => process.exit(1));
}

// A module's syntax error carries no line in its stack; the same source parsed
// as the body of an async function (same line numbers) says where it is.
function locateModuleSyntaxError(err, source) {
  if (!(err instanceof SyntaxError) || USER_FRAME.test(String(err.stack))) return err;
  try {
    new vm.Script(`(async () => {${source}\n})`, { filename: MAIN_MJS });
  } catch (again) {
    const m = again instanceof SyntaxError ? USER_FRAME.exec(String(again.stack)) : null;
    if (m) err.stack = `${MAIN_MJS}:${m[1]}\n${err.stack}`;
  }
  return err;
}

function start(args) {
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  process.argv = [process.argv[0], MAIN_CJS, ...args];
  const source = fs.readFileSync(MAIN_CJS, 'utf8');
  let esm = false;
  try {
    new vm.Script(Module.wrap(source), { filename: MAIN_CJS });
  } catch (err) {
    // Top-level await often fails the CommonJS parse with an unrelated message
    // ("missing ) after argument list"), so any syntax error in code that
    // mentions await/import/export gets a second chance as a module.
    if (err instanceof SyntaxError && (ESM_ONLY.test(err.message) || MAY_BE_ESM.test(source))) esm = true;
    else fail(err);
  }
  if (!reported) {
    if (esm) import(MAIN_MJS).catch((err) => fail(locateModuleSyntaxError(err, source)));
    else require(MAIN_CJS);
  }
}

// The go message, read synchronously: loading fs streams would cost ~13 ms of startup.
function readGo() {
  const chunks = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n;
    try {
      n = fs.readSync(4, buf, 0, buf.length, null);
    } catch (err) {
      if (err.code === 'EAGAIN') return null; // a non-blocking pipe: read it as a stream instead
      if (err.code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  fs.closeSync(4);
  return Buffer.concat(chunks).toString('utf8');
}

// The first record is the run's limits (codemode-limits:...): a node runner is only handed runs whose
// rlimits equal the ones it started with (Node cannot set rlimits), so it is dropped here.
const toArgs = (data) => (data ? data.split('\0').slice(1, -1) : []);
const go = readGo();
if (go !== null) start(toArgs(go));
else {
  const chunks = [];
  const stream = fs.createReadStream(null, { fd: 4 });
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => start(toArgs(Buffer.concat(chunks).toString('utf8'))));
}
