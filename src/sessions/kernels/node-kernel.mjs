// codemode JavaScript session kernel: runs cells in one persistent global scope
// and speaks newline-delimited JSON frames with the host on the control fd.
// Invariants: user output goes to fd 1/2 followed by the end marker, then the
// 'done' frame; top-level declarations persist; SIGINT interrupts only the cell.
import fs from 'node:fs';
import { Console } from 'node:console';
import vm from 'node:vm';
import util from 'node:util';
import net from 'node:net';
import path from 'node:path';
import { createRequire, builtinModules } from 'node:module';
import { pathToFileURL } from 'node:url';

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

// console writes straight to fd 1/2: synchronous, ordered, and immune to an interrupt mid-write.
const directSink = (fd) => ({
  write: (chunk) => {
    writeAllSync(fd, chunk);
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
      buf = buf.subarray(fs.writeSync(fd, buf));
    } catch (e) {
      if (e.code !== 'EAGAIN') return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/**
 * The end marker goes after everything the cell printed. Direct writes are used
 * because an interrupt can land inside a stream write and leave the stream
 * stuck; the stream is only awaited (briefly) when it still holds data.
 */
async function writeMarker(stream, fd, marker) {
  if (stream.writableLength > 0) {
    await new Promise((resolve) => {
      const t = setTimeout(resolve, 200);
      try {
        stream.write('', () => {
          clearTimeout(t);
          resolve();
        });
      } catch {
        resolve();
      }
    });
  }
  writeAllSync(fd, marker);
}

async function execute(frame) {
  const filename = `<cell ${frame.cell ?? '?'}>`;
  currentExec = { id: frame.id };
  let status = 'ok';
  let error;
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
      send({ type: 'output', id: frame.id, kind: 'result', data: { 'text/plain': util.inspect(value, { depth: 4 }) } });
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
      writeAllSync(2, `${error.traceback}\n`);
    }
  } finally {
    interruptWaiter = null;
  }
  if (frame.marker) {
    await writeMarker(process.stdout, 1, frame.marker);
    await writeMarker(process.stderr, 2, frame.marker);
  }
  send(error ? { type: 'done', id: frame.id, status, error } : { type: 'done', id: frame.id, status });
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
