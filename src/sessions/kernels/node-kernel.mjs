// codemode JavaScript session kernel: runs cells in one persistent global scope
// and speaks newline-delimited JSON frames with the host on the control fd.
// Invariants: a cell's own stdout/stderr (console, process.stdout/stderr) are
// captured in the kernel (up to CAPTURE_BYTES per stream) and shipped in the
// 'done' frame; past the bound, after CAPTURE_MS, or before a child process
// starts or a direct write to fd 1/2, captured text goes to the fd (in order)
// and the rest of the cell streams there. An end marker is written only to a
// pipe the cell wrote to directly (or every pipe once it started a child),
// before 'done', which names the marked pipes. Top-level declarations persist;
// SIGINT interrupts only the cell.
import childProcess from 'node:child_process';
import fs from 'node:fs';
import { Console } from 'node:console';
import vm from 'node:vm';
import util from 'node:util';
import net from 'node:net';
import path from 'node:path';
import { createRequire, builtinModules, syncBuiltinESMExports } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';

const fsWriteSync = fs.writeSync;
const CONTROL_FD = Number(process.env.CODEMODE_CONTROL_FD ?? 3);
delete process.env.CODEMODE_CONTROL_FD;
const WORKDIR = process.cwd();
const control = new net.Socket({ fd: CONTROL_FD, readable: true, writable: true });
const send = (frame) => control.write(JSON.stringify(frame) + '\n');

// ------------------------------------------------------------- tokenizer
// A small JavaScript tokenizer that tracks bracket depth, enough to find and
// rewrite top-level statements. It never has to be perfect: every rewrite is
// compiled first, and a rewrite that does not compile falls back to the source.

const EXPR_KEYWORDS = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);
const STATEMENT_KEYWORDS = new Set([
  'if',
  'for',
  'while',
  'do',
  'switch',
  'try',
  'return',
  'throw',
  'var',
  'let',
  'const',
  'class',
  'function',
  'break',
  'continue',
  'import',
  'export',
  'debugger',
  'with',
]);
const CONTINUES = new Set(['.', '(', '[', '`', '+', '-', '*', '/', '%', ',', '?', ':', '=', '&', '|', '^', '<', '>']);

function tokenize(src) {
  const toks = [];
  const templates = [];
  let i = 0;
  let depth = 0;
  let nl = false;
  const n = src.length;
  const push = (type, value, start, end, d) => {
    toks.push({ type, value, start, end, depth: d, nl });
    nl = false;
  };
  const scanTemplate = (start) => {
    // i is just after ` or after the } closing a ${...}
    while (i < n) {
      const c = src[i];
      if (c === '\\') i += 2;
      else if (c === '`') {
        i++;
        push('template', '', start, i, depth);
        return;
      } else if (c === '$' && src[i + 1] === '{') {
        i += 2;
        push('template', '', start, i, depth);
        templates.push(depth);
        depth++;
        return;
      } else i++;
    }
    push('template', '', start, n, depth);
  };
  while (i < n) {
    const c = src[i];
    if (c === '\n') {
      nl = true;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\u00a0' || c === '\ufeff') {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      if (src.slice(i, stop).includes('\n')) nl = true;
      i = stop;
      continue;
    }
    const start = i;
    if (c === '"' || c === "'") {
      i++;
      while (i < n && src[i] !== c && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1;
      i++;
      push('string', '', start, Math.min(i, n), depth);
    } else if (c === '`') {
      i++;
      scanTemplate(start);
    } else if (/[A-Za-z_$\u0080-\uffff]/.test(c)) {
      while (i < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(src[i])) i++;
      push('ident', src.slice(start, i), start, i, depth);
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      while (i < n && /[0-9A-Za-z_.]/.test(src[i])) i++;
      push('number', '', start, i, depth);
    } else if (c === '/') {
      const prev = toks[toks.length - 1];
      const regexAllowed =
        !prev ||
        (prev.type === 'punct' && !')]}'.includes(prev.value)) ||
        (prev.type === 'ident' && EXPR_KEYWORDS.has(prev.value));
      if (regexAllowed) {
        i++;
        let inClass = false;
        while (i < n && src[i] !== '\n') {
          const r = src[i];
          if (r === '\\') i++;
          else if (r === '[') inClass = true;
          else if (r === ']') inClass = false;
          else if (r === '/' && !inClass) break;
          i++;
        }
        i++;
        while (i < n && /[a-z]/.test(src[i])) i++;
        push('regex', '', start, i, depth);
      } else {
        i++;
        push('punct', '/', start, i, depth);
      }
    } else if (c === '(' || c === '[' || c === '{') {
      i++;
      push('punct', c, start, i, depth);
      depth++;
    } else if (c === ')' || c === ']' || c === '}') {
      i++;
      if (c === '}' && templates.length > 0 && templates[templates.length - 1] === depth - 1) {
        templates.pop();
        depth--;
        scanTemplate(start);
        continue;
      }
      depth = Math.max(0, depth - 1);
      push('punct', c, start, i, depth);
    } else {
      i++;
      push('punct', c, start, i, depth);
    }
  }
  return toks;
}

/** Is token i the first token of a top-level statement? */
function statementStart(toks, i) {
  const t = toks[i];
  if (t.depth !== 0) return false;
  if (i === 0) return true;
  const p = toks[i - 1];
  if (p.depth === 0 && p.type === 'punct' && (p.value === ';' || p.value === '}')) return true;
  if (!t.nl) return false;
  if (t.type === 'punct' && CONTINUES.has(t.value)) return false;
  if (p.type === 'punct') return p.value === ')' || p.value === ']' || p.value === '}';
  if (p.type === 'ident') return !EXPR_KEYWORDS.has(p.value) || p.value === 'return';
  return true;
}

/** Index of the '}' closing the first depth-0 '{' at or after token i. */
function bodyEnd(toks, i) {
  let j = i;
  while (j < toks.length && !(toks[j].depth === 0 && toks[j].value === '{' && toks[j].type === 'punct')) j++;
  for (j = j + 1; j < toks.length; j++) {
    if (toks[j].depth === 0 && toks[j].type === 'punct' && toks[j].value === '}') return j;
  }
  return -1;
}

function applyEdits(src, edits) {
  edits.sort((a, b) => b.pos - a.pos || (b.order ?? 0) - (a.order ?? 0));
  let out = src;
  for (const e of edits) out = out.slice(0, e.pos) + e.text + out.slice(e.pos + (e.remove ?? 0));
  return out;
}

function importEdit(src, toks, i) {
  // import 'm' | import X from 'm' | import * as X from 'm' | import {a, b as c} from 'm' | import X, {a} from 'm'
  let j = i + 1;
  const first = toks[j];
  if (!first || (first.type === 'punct' && (first.value === '(' || first.value === '.'))) return null;
  if (first.type === 'string') {
    return { from: i, to: j, text: `await __codemode_import(${src.slice(first.start, first.end)})` };
  }
  let spec = null;
  while (j < toks.length) {
    const t = toks[j];
    if (t.type === 'ident' && t.value === 'from' && toks[j + 1]?.type === 'string') {
      spec = src.slice(toks[j + 1].start, toks[j + 1].end);
      j++;
      break;
    }
    if (t.type === 'ident' && t.value === 'type' && j === i + 1) return null;
    j++;
  }
  if (spec === null) return null;
  const clause = src.slice(first.start, toks[j - 1].start).trim();
  const star = /^\*\s+as\s+([\w$]+)$/.exec(clause);
  const mod = `await __codemode_import(${spec})`;
  if (star) return { from: i, to: j, text: `${star[1]} = ${mod}` };
  const m = /^(?:([\w$]+)\s*)?,?\s*(?:\{([^}]*)\})?\s*(?:,?\s*\*\s+as\s+([\w$]+))?$/.exec(clause);
  if (!m) return null;
  const stmts = [`__codemode_mod = ${mod}`];
  if (m[1]) stmts.push(`${m[1]} = __codemode_mod.default`);
  if (m[3]) stmts.push(`${m[3]} = __codemode_mod`);
  if (m[2]) {
    const names = m[2]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => s.replace(/^type\s+/, '').replace(/\s+as\s+/, ': '));
    stmts.push(`({${names.join(', ')}} = __codemode_mod)`);
  }
  return { from: i, to: j, text: stmts.join('; ') };
}

/**
 * Candidate programs for a cell, most faithful first. `script` candidates run as
 * a classic script (top-level const/let become var so they persist and can be
 * redeclared); `async` candidates run inside an async function (top-level
 * await) with declarations turned into global assignments.
 */
function prepare(src) {
  const toks = tokenize(src);
  const scriptEdits = [];
  const asyncEdits = [];
  let hasImport = false;
  let lastStart = -1;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i];
    if (t.type === 'ident' && t.value === 'import' && toks[i + 1]?.value === '(' && toks[i - 1]?.value !== '.') {
      // Dynamic import() resolves against the workspace, not the kernel file.
      const edit = { pos: t.start, remove: t.end - t.start, text: '__codemode_import' };
      scriptEdits.push(edit);
      asyncEdits.push(edit);
      continue;
    }
    if (!statementStart(toks, i)) continue;
    lastStart = i;
    if (t.type !== 'ident') continue;
    const next = toks[i + 1];
    if ((t.value === 'const' || t.value === 'let' || t.value === 'var') && next) {
      if (t.value === 'let' && !(next.type === 'ident' || next.value === '[' || next.value === '{')) continue;
      if (t.value !== 'var') scriptEdits.push({ pos: t.start, remove: t.end - t.start, text: 'var' });
      if (next.type === 'ident') {
        asyncEdits.push({ pos: t.start, remove: t.end - t.start, text: '' });
        const after = toks[i + 2];
        if (!after || after.value === ';' || after.nl) asyncEdits.push({ pos: next.end, text: ' = undefined' });
      } else {
        asyncEdits.push({ pos: t.start, remove: t.end - t.start, text: 'var' });
      }
    } else if (t.value === 'class' && next?.type === 'ident') {
      const end = bodyEnd(toks, i);
      if (end < 0) continue;
      scriptEdits.push({ pos: t.start, text: `var ${next.value} = ` }, { pos: toks[end].end, text: ';' });
      asyncEdits.push({ pos: t.start, text: `${next.value} = ` }, { pos: toks[end].end, text: ';' });
    } else if (t.value === 'function' || (t.value === 'async' && next?.value === 'function' && !next.nl)) {
      const k = t.value === 'async' ? i + 2 : i + 1;
      let nameTok = toks[k];
      if (nameTok?.value === '*') nameTok = toks[k + 1];
      if (nameTok?.type !== 'ident') continue;
      const end = bodyEnd(toks, i);
      if (end < 0) continue;
      asyncEdits.push({ pos: t.start, text: `${nameTok.value} = ` }, { pos: toks[end].end, text: ';' });
    } else if (t.value === 'import') {
      const e = importEdit(src, toks, i);
      if (!e) continue;
      hasImport = true;
      asyncEdits.push({ pos: toks[e.from].start, remove: toks[e.to].end - toks[e.from].start, text: e.text });
    }
  }
  const candidates = [];
  if (!hasImport) candidates.push({ mode: 'script', code: applyEdits(src, [...scriptEdits]) });
  const body = applyEdits(src, [...asyncEdits]);
  if (lastStart >= 0) {
    const t = toks[lastStart];
    const isStatement =
      (t.type === 'ident' && STATEMENT_KEYWORDS.has(t.value)) ||
      (t.type === 'ident' && t.value === 'async' && toks[lastStart + 1]?.value === 'function') ||
      (t.type === 'punct' && (t.value === '{' || t.value === ';'));
    if (!isStatement) {
      let endTok = toks[toks.length - 1];
      if (endTok.type === 'punct' && endTok.value === ';' && endTok.depth === 0) endTok = toks[toks.length - 2];
      if (endTok && endTok.end > t.start) {
        const edits = [
          ...asyncEdits,
          { pos: t.start, text: 'return (', order: -1 },
          { pos: endTok.end, text: '\n)', order: 1 },
        ];
        candidates.push({ mode: 'async', code: applyEdits(src, edits) });
      }
    }
  }
  candidates.push({ mode: 'async', code: body });
  return candidates;
}

function compileCell(src, filename) {
  for (const c of prepare(src)) {
    const code = c.mode === 'script' ? c.code : `(async () => { ${c.code}\n})()`;
    try {
      return { mode: c.mode, script: new vm.Script(code, { filename }) };
    } catch {
      // try the next candidate
    }
  }
  // Nothing compiled: report the error against the user's own source.
  new vm.Script(src, { filename });
  return { mode: 'script', script: new vm.Script(`(async () => { ${src}\n})()`, { filename }) };
}

// --------------------------------------------------------------- modules

const workspaceRequire = createRequire(path.join(WORKDIR, '__codemode__.js'));

async function importFromWorkspace(specifier) {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier)) return import(specifier);
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    return import(pathToFileURL(path.resolve(WORKDIR, specifier)).href);
  }
  return import(pathToFileURL(workspaceRequire.resolve(specifier)).href);
}

// ---------------------------------------------------------- rich output

let currentExec = null;

function display(value, options = {}) {
  if (!currentExec) return; // no execution is running: there is nowhere to show it
  let data;
  if (options.raw && value && typeof value === 'object') {
    data = {};
    for (const [k, v] of Object.entries(value))
      data[k] = typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('base64') : JSON.stringify(v);
  } else {
    data = { 'text/plain': typeof value === 'string' ? value : util.inspect(value, { depth: 4 }) };
  }
  send({ type: 'output', id: currentExec?.id ?? null, kind: 'display', data });
}
display.html = (html) => display({ 'text/html': String(html), 'text/plain': '[HTML]' }, { raw: true });
display.png = (png) =>
  display(
    {
      'image/png':
        Buffer.isBuffer(png) || png instanceof Uint8Array ? Buffer.from(png).toString('base64') : String(png),
      'text/plain': '[image/png]',
    },
    { raw: true },
  );
display.markdown = (md) => display({ 'text/markdown': String(md), 'text/plain': String(md) }, { raw: true });

// ------------------------------------------------------------- tool RPC

let rpcSeq = 0;
const pendingRpc = new Map();

class CodeModeError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'CodeModeError';
    this.code = code;
  }
}

function rpc(method, params) {
  if (!currentExec) return Promise.reject(new CodeModeError('tool calls are only possible while an execution runs'));
  const rid = ++rpcSeq;
  return new Promise((resolve, reject) => {
    pendingRpc.set(rid, { resolve, reject });
    send({ type: 'rpc', rid, method, params });
  });
}

const codemode = new Proxy(
  {},
  {
    get(_target, server) {
      if (typeof server !== 'string' || server === 'then') return undefined;
      if (server === '$search') return (query, detail = 'signatures') => rpc('searchTools', { query, detail });
      return new Proxy(
        {},
        {
          get(_t, tool) {
            if (typeof tool !== 'string' || tool === 'then') return undefined;
            return (args = {}) => rpc('callTool', { server, tool, args });
          },
        },
      );
    },
  },
);

// ---------------------------------------------------------- output capture

const CAPTURE_BYTES = 64 * 1024;
const CAPTURE_MS = 50;

// The capture lives in shared memory so a flusher thread can spill it while a
// synchronous cell keeps the main thread busy (a cell that prints, then loops,
// still streams). STATE: a lock, the flusher's arm flag, the cell counter, then
// per stream: capturing, captured length, wrote-to-the-fd.
const STATE = new Int32Array(new SharedArrayBuffer(4 * 9));
const ARMED = 1; // STATE[0] is the lock
const CELL = 2;
const slot = (fd, k) => 3 + (fd - 1) * 3 + k;
const DATA = {
  1: new Uint8Array(new SharedArrayBuffer(CAPTURE_BYTES)),
  2: new Uint8Array(new SharedArrayBuffer(CAPTURE_BYTES)),
};

// lock, unlock and spillLocked run on both threads (the flusher gets their source).
function lock(S) {
  while (Atomics.compareExchange(S, 0, 0, 1) !== 0) Atomics.wait(S, 0, 1, 1);
}
function unlock(S) {
  Atomics.store(S, 0, 0);
  Atomics.notify(S, 0, 1);
}
/** Under the lock: send what a stream holds to its fd; the rest of the cell streams there. */
function spillLocked(S, data, fd, write) {
  const base = 3 + (fd - 1) * 3;
  if (Atomics.load(S, base) === 0) return;
  Atomics.store(S, base, 0);
  const len = Atomics.load(S, base + 1);
  if (len === 0) return;
  Atomics.store(S, base + 1, 0);
  Atomics.store(S, base + 2, 1);
  write(fd, Buffer.from(data.subarray(0, len)));
}

/** Waits for a cell's first captured write, then spills that cell's capture CAPTURE_MS later. */
const FLUSHER = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
${lock}
${unlock}
${spillLocked}
const { state: S, out, err, ms } = workerData;
const pause = new Int32Array(new SharedArrayBuffer(4));
const write = (fd, buf) => {
  while (buf.length > 0) {
    try { buf = buf.subarray(fs.writeSync(fd, buf)); }
    catch (e) { if (e.code !== 'EAGAIN') return; Atomics.wait(pause, 0, 0, 1); }
  }
};
for (;;) {
  Atomics.wait(S, 1, 0);
  const cell = Atomics.load(S, 2);
  Atomics.wait(S, 2, cell, ms);
  lock(S);
  if (Atomics.load(S, 2) === cell) {
    spillLocked(S, out, 1, write);
    spillLocked(S, err, 2, write);
    Atomics.store(S, 1, 0);
  }
  unlock(S);
}`;

/** fd 1 or 2 for the cell's own output: held while a cell captures, written to the fd otherwise. */
class Capture {
  constructor(fd) {
    this.fd = fd;
  }
  /** The cell wrote to the fd itself (bytes may still be unread by the host): it gets a marker. */
  get wroteFd() {
    return Atomics.load(STATE, slot(this.fd, 2)) === 1;
  }
  noteFdWrite() {
    if (currentExec) Atomics.store(STATE, slot(this.fd, 2), 1);
  }
  start() {
    Atomics.store(STATE, slot(this.fd, 1), 0);
    Atomics.store(STATE, slot(this.fd, 2), 0);
    Atomics.store(STATE, slot(this.fd, 0), 1);
  }
  write(chunk) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    lock(STATE);
    const len = Atomics.load(STATE, slot(this.fd, 1));
    if (
      Atomics.load(STATE, slot(this.fd, 0)) === 1 &&
      len + buf.length <= CAPTURE_BYTES &&
      performance.now() < captureUntil
    ) {
      DATA[this.fd].set(buf, len);
      Atomics.store(STATE, slot(this.fd, 1), len + buf.length);
      // Armed even before the flusher is online: it looks at the flag when it starts.
      if (Atomics.load(STATE, ARMED) === 0) {
        Atomics.store(STATE, ARMED, 1);
        Atomics.notify(STATE, ARMED);
      }
      unlock(STATE);
      return;
    }
    spillLocked(STATE, DATA[this.fd], this.fd, writeAllSync);
    unlock(STATE);
    this.noteFdWrite();
    writeAllSync(this.fd, buf);
  }
  /** Send what is held to the fd; the rest of the cell streams there. */
  spill() {
    lock(STATE);
    spillLocked(STATE, DATA[this.fd], this.fd, writeAllSync);
    unlock(STATE);
  }
  /** End of a cell (under the lock): the captured text, for the done frame; capture stops. */
  takeLocked() {
    const len = Atomics.load(STATE, slot(this.fd, 1));
    Atomics.store(STATE, slot(this.fd, 0), 0);
    Atomics.store(STATE, slot(this.fd, 1), 0);
    return len ? Buffer.from(DATA[this.fd].subarray(0, len)).toString('utf8') : '';
  }
}
const outCapture = new Capture(1);
const errCapture = new Capture(2);
const captures = { 1: outCapture, 2: errCapture };
let captureUntil = 0;
let childStarted = false;

/** End of a cell: both captures taken at once; the flusher lets go of this cell. */
function takeCaptures() {
  lock(STATE);
  const stdout = outCapture.takeLocked();
  const stderr = errCapture.takeLocked();
  Atomics.add(STATE, CELL, 1);
  Atomics.store(STATE, ARMED, 0);
  unlock(STATE);
  Atomics.notify(STATE, CELL);
  return { stdout, stderr };
}

/** Starts the flusher thread (after ready: a kernel's start does not wait for it). */
function startFlusher() {
  const worker = new Worker(FLUSHER, {
    eval: true,
    workerData: { state: STATE, out: DATA[1], err: DATA[2], ms: CAPTURE_MS },
    stdout: false,
    stderr: false,
  });
  worker.unref();
  // Without it, a cell's output is held until the cell ends or writes again after CAPTURE_MS.
  worker.on('error', () => {});
}

/** Something else is about to write to fd 1/2: what the cell printed so far goes first. */
function spillAll() {
  outCapture.spill();
  errCapture.spill();
}

// process.stdout/stderr writes join the capture (synchronously, in order with console).
for (const [stream, capture] of [
  [process.stdout, outCapture],
  [process.stderr, errCapture],
]) {
  stream.write = (chunk, encoding, cb) => {
    if (typeof encoding === 'function') [cb, encoding] = [encoding, undefined];
    capture.write(typeof chunk === 'string' && encoding && encoding !== 'utf8' ? Buffer.from(chunk, encoding) : chunk);
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  };
}

// A child process or a direct write to fd 1/2 bypasses the capture: spill first to keep the order.
const origSpawn = childProcess.ChildProcess.prototype.spawn;
childProcess.ChildProcess.prototype.spawn = function (...args) {
  spillAll();
  if (currentExec) childStarted = true;
  return origSpawn.apply(this, args);
};
for (const name of ['spawnSync', 'execSync', 'execFileSync']) {
  const orig = childProcess[name];
  childProcess[name] = function (...args) {
    spillAll();
    if (currentExec) childStarted = true;
    return orig.apply(this, args);
  };
}
for (const name of ['write', 'writeSync', 'writev', 'writevSync']) {
  const orig = fs[name];
  if (typeof orig !== 'function') continue;
  fs[name] = function (fd, ...args) {
    if (fd === 1 || fd === 2) {
      spillAll();
      captures[fd].noteFdWrite();
    }
    return orig.call(this, fd, ...args);
  };
}
syncBuiltinESMExports();

// console writes join the capture directly: synchronous, ordered, and immune to an interrupt mid-write.
const directSink = (fd) => ({
  write: (chunk) => {
    captures[fd].write(chunk);
    return true;
  },
  // Console attaches a transient error listener around each write; there is no stream to listen to.
  once: () => {},
  on: () => {},
  removeListener: () => {},
  off: () => {},
  listenerCount: () => 0,
});
globalThis.console = new Console({ stdout: directSink(1), stderr: directSink(2) });
globalThis.display = display;
globalThis.codemode = codemode;
globalThis.CodeModeError = CodeModeError;
globalThis.require = workspaceRequire;
globalThis.__codemode_import = importFromWorkspace;

// ------------------------------------------------------------- execution

class Interrupted extends Error {}
let interruptWaiter = null;
process.on('SIGINT', () => {
  if (interruptWaiter) interruptWaiter(new Interrupted('interrupted'));
});

function describeError(err, filename) {
  if (!(err instanceof Error) && !(err && typeof err === 'object' && 'stack' in err)) {
    return {
      type: 'Uncaught',
      message: typeof err === 'string' ? err : util.inspect(err),
      traceback: `Uncaught ${util.inspect(err)}`,
    };
  }
  const stack = String(err.stack ?? `${err.name}: ${err.message}`);
  const lines = stack.split('\n');
  const kept = [];
  for (const line of lines) {
    if (/^\s+at /.test(line) && !line.includes('<cell ')) continue;
    kept.push(line);
  }
  const esc = filename.replace(/[<>]/g, (m) => `\\${m}`);
  const m = new RegExp(`${esc}:(\\d+)(?::(\\d+))?`).exec(stack);
  const out = {
    type: String(err.name ?? err.constructor?.name ?? 'Error'),
    message: String(err.message ?? ''),
    traceback: kept.join('\n'),
  };
  if (m) {
    out.line = Number(m[1]);
    if (m[2]) out.column = Number(m[2]);
  }
  return out;
}

/** Write all of data to fd synchronously, waiting out EAGAIN on a full non-blocking pipe. */
const pause = new Int32Array(new SharedArrayBuffer(4));
function writeAllSync(fd, data) {
  let buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  while (buf.length > 0) {
    try {
      buf = buf.subarray(fsWriteSync(fd, buf));
    } catch (e) {
      if (e.code !== 'EAGAIN') return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

async function execute(frame) {
  const filename = `<cell ${frame.cell ?? '?'}>`;
  currentExec = { id: frame.id };
  childStarted = false;
  outCapture.start();
  errCapture.start();
  captureUntil = performance.now() + CAPTURE_MS;
  let status = 'ok';
  let error;
  let result = null;
  const interrupted = new Promise((_, reject) => {
    interruptWaiter = reject;
  });
  interrupted.catch(() => {});
  try {
    const { mode, script } = compileCell(frame.code, filename);
    let value = script.runInThisContext({ breakOnSigint: true, displayErrors: false });
    if (mode === 'async' || (value instanceof Promise && frame.awaitResult !== false)) {
      value = await Promise.race([value, interrupted]);
    }
    if (value !== undefined) {
      globalThis._ = value;
      result = {
        type: 'output',
        id: frame.id,
        kind: 'result',
        data: { 'text/plain': util.inspect(value, { depth: 4 }) },
      };
    }
  } catch (e) {
    if (e instanceof Interrupted || (e && e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED')) {
      status = 'interrupted';
      error = {
        type: 'Interrupted',
        message: 'execution interrupted',
        traceback: 'Interrupted: execution interrupted',
      };
    } else {
      status = 'error';
      error = describeError(e, filename);
      errCapture.write(`${error.traceback}\n`);
    }
  } finally {
    interruptWaiter = null;
  }
  const done = { type: 'done', id: frame.id, status, marked: [] };
  const { stdout, stderr } = takeCaptures();
  if (frame.marker) {
    // Only a pipe the cell wrote to itself (or, after a child started, either) may hold unread bytes.
    if (outCapture.wroteFd || childStarted) {
      writeAllSync(1, frame.marker);
      done.marked.push('stdout');
    }
    if (errCapture.wroteFd || childStarted) {
      writeAllSync(2, frame.marker);
      done.marked.push('stderr');
    }
  }
  if (stdout) done.stdout = stdout;
  if (stderr) done.stderr = stderr;
  if (error) done.error = error;
  // The result and the done frame leave in one write: the host wakes once.
  control.write((result ? JSON.stringify(result) + '\n' : '') + JSON.stringify(done) + '\n');
  currentExec = null;
}

let queue = Promise.resolve();
let buffered = '';
control.setEncoding('utf8');
control.on('data', (chunk) => {
  buffered += chunk;
  let nlIndex;
  while ((nlIndex = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nlIndex);
    buffered = buffered.slice(nlIndex + 1);
    if (!line.trim()) continue;
    let frame;
    try {
      frame = JSON.parse(line);
    } catch {
      continue;
    }
    if (frame.type === 'execute') queue = queue.then(() => execute(frame));
    else if (frame.type === 'rpc_result') {
      const p = pendingRpc.get(frame.rid);
      if (!p) continue;
      pendingRpc.delete(frame.rid);
      if (frame.ok) p.resolve(frame.value);
      else p.reject(new CodeModeError(frame.error ?? 'tool call failed', frame.code));
    } else if (frame.type === 'ping') send({ type: 'pong', id: frame.id });
    else if (frame.type === 'shutdown') process.exit(0);
  }
});
control.on('end', () => process.exit(0));
control.on('error', () => process.exit(0));
process.on('uncaughtException', (e) => {
  process.stderr.write(`Uncaught ${util.inspect(e)}\n`);
});
process.on('unhandledRejection', (e) => {
  process.stderr.write(`Unhandled promise rejection: ${util.inspect(e)}\n`);
});
send({ type: 'ready', pid: process.pid, language: 'javascript' });
setImmediate(startFlusher);
