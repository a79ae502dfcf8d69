/**
 * JUnit XML, the one report format both pytest (`--junitxml`) and node's test
 * runner (`--test-reporter=junit`) write, parsed into test cases. The XML was
 * written by sandboxed code, so it is hostile input: a small strict parser
 * with caps on size, depth and cases, that never resolves external entities
 * and never throws anything but a typed error.
 */
import { AppError } from '../errors.js';

export type TestOutcome = 'passed' | 'failed' | 'error' | 'skipped';

export interface TestCase {
  /** `classname::name` as pytest prints it, or the suite path and name for node. */
  name: string;
  outcome: TestOutcome;
  durationMs: number;
  /** The failure's one-line message (failed/error). */
  message?: string;
  /** The failure's details (traceback), capped. */
  details?: string;
  /** Where the failure happened in the workspace, when the traceback says. */
  file?: string;
  line?: number;
}

export const JUNIT_LIMITS = { bytes: 8 * 1024 * 1024, depth: 64, cases: 10_000, detailChars: 4000 } as const;

interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-z]{2,4});/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\uFFFD';
    }
    return ENTITIES[ref] ?? whole;
  });
}

function bad(message: string): AppError {
  return new AppError('INVALID_ARGUMENT', `the test report is not valid JUnit XML: ${message}`);
}

const ATTR = /([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/y;

/** Parses XML into an element tree (no DTDs, no external entities, no namespaces beyond names). */
export function parseXml(xml: string): XmlElement {
  if (xml.length > JUNIT_LIMITS.bytes) throw bad(`larger than ${JUNIT_LIMITS.bytes} bytes`);
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let i = 0;
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    const top = stack[stack.length - 1]!;
    if (lt === -1) {
      top.text += decode(xml.slice(i));
      break;
    }
    if (lt > i) top.text += decode(xml.slice(i, lt));
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt + 4);
      if (end === -1) throw bad('unterminated comment');
      i = end + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9);
      if (end === -1) throw bad('unterminated CDATA');
      top.text += xml.slice(lt + 9, end);
      i = end + 3;
    } else if (xml.startsWith('<?', lt)) {
      const end = xml.indexOf('?>', lt + 2);
      if (end === -1) throw bad('unterminated declaration');
      i = end + 2;
    } else if (xml.startsWith('<!', lt)) {
      throw bad('DOCTYPE and entity declarations are not accepted');
    } else if (xml[lt + 1] === '/') {
      const end = xml.indexOf('>', lt);
      if (end === -1) throw bad('unterminated end tag');
      const name = xml.slice(lt + 2, end).trim();
      if (stack.length === 1 || top.name !== name) throw bad(`unexpected </${name}>`);
      stack.pop();
      i = end + 1;
    } else {
      const nameMatch = /^[A-Za-z_][\w.:-]*/.exec(xml.slice(lt + 1, lt + 200));
      if (!nameMatch) throw bad(`bad tag at offset ${lt}`);
      const el: XmlElement = { name: nameMatch[0], attrs: {}, children: [], text: '' };
      let j = lt + 1 + nameMatch[0].length;
      for (;;) {
        while (j < n && /\s/.test(xml[j]!)) j++;
        if (xml[j] === '>' || (xml[j] === '/' && xml[j + 1] === '>')) break;
        ATTR.lastIndex = j;
        const m = ATTR.exec(xml);
        if (!m) throw bad(`bad attribute in <${el.name}> at offset ${j}`);
        el.attrs[m[1]!] = decode(m[3] ?? m[4] ?? '');
        j = ATTR.lastIndex;
      }
      top.children.push(el);
      if (xml[j] === '/') {
        i = j + 2;
      } else {
        if (stack.length > JUNIT_LIMITS.depth) throw bad(`nested deeper than ${JUNIT_LIMITS.depth}`);
        stack.push(el);
        i = j + 1;
      }
    }
  }
  if (stack.length !== 1) throw bad(`<${stack[stack.length - 1]!.name}> is not closed`);
  return root;
}

/** The first place in the workspace a traceback points at: pytest's `path.py:12:` or node's `/workspace/a.test.js:4:26`. */
export function failureLocation(details: string): { file: string; line: number } | undefined {
  const m =
    /(?:file:\/\/)?\/workspace\/([^\s:()'"]+):(\d+)/.exec(details) ??
    /^([\w./-]+\.(?:py|[cm]?[jt]s)):(\d+):/m.exec(details);
  if (!m) return undefined;
  return { file: m[1]!, line: Number(m[2]) };
}

function cap(s: string): string {
  const t = s.trim();
  return t.length > JUNIT_LIMITS.detailChars ? `${t.slice(0, JUNIT_LIMITS.detailChars)}… [cut]` : t;
}

/** Every test case in a JUnit report, in document order. */
export function parseJunit(xml: string): TestCase[] {
  const cases: TestCase[] = [];
  const visit = (el: XmlElement, suites: string[]) => {
    for (const child of el.children) {
      if (child.name === 'testsuite' || child.name === 'testsuites') {
        const name = child.attrs['name'];
        // pytest names its one suite "pytest"; node names suites after describe() blocks.
        visit(child, child.name === 'testsuite' && name && name !== 'pytest' ? [...suites, name] : suites);
      } else if (child.name === 'testcase') {
        if (cases.length >= JUNIT_LIMITS.cases) throw bad(`more than ${JUNIT_LIMITS.cases} test cases`);
        cases.push(testCase(child, suites));
      }
    }
  };
  visit(parseXml(xml), []);
  return cases;
}

function testCase(el: XmlElement, suites: string[]): TestCase {
  const cls = el.attrs['classname'];
  const base = el.attrs['name'] ?? '(unnamed)';
  // node writes classname="test" for every case; pytest writes the module path.
  const name = cls && cls !== 'test' ? `${cls}::${base}` : [...suites, base].join(' > ');
  const seconds = Number(el.attrs['time'] ?? 0);
  const result: TestCase = {
    name,
    outcome: 'passed',
    durationMs: Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1e6) / 1e3 : 0,
  };
  const problem = el.children.find((c) => c.name === 'failure' || c.name === 'error');
  if (problem) {
    result.outcome = problem.name === 'failure' ? 'failed' : 'error';
    const details = cap(problem.text);
    result.message = cap(problem.attrs['message'] ?? details.split('\n')[0] ?? '').split('\n')[0]!;
    if (details) result.details = details;
    const at = failureLocation(details);
    if (at) Object.assign(result, at);
  } else if (el.children.some((c) => c.name === 'skipped')) {
    result.outcome = 'skipped';
    const reason = el.children.find((c) => c.name === 'skipped')!.attrs['message'];
    if (reason) result.message = cap(reason);
  }
  return result;
}
