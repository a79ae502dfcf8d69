/**
 * The agent task suite: small data tasks (CSV statistics, JSON reshaping,
 * string processing, a chart saved to a file, small algorithms), each with
 * its inputs, a checker computed from those inputs, and a correct solution.
 * Python with the standard library only, so any sandbox image can run them.
 */
import { expectNumber, numbersIn, parseCsv, readJson, readLines, sameJson } from './checks.js';
import type { AgentTask } from './contract.js';

const SALES = `region,month,amount
north,2024-01,120.5
south,2024-01,80
east,2024-01,99.25
north,2024-02,130
south,2024-02,75.5
east,2024-02,101
north,2024-03,128.75
south,2024-03,90
east,2024-03,110.5
west,2024-03,42
`;
const salesRows = parseCsv(SALES).slice(1);
const amounts = salesRows.map((r) => Number(r[2]));

const USERS = JSON.stringify(
  [
    { id: 1, name: 'Mia', team: 'data' },
    { id: 2, name: 'Liam', team: 'web' },
    { id: 3, name: 'Ava', team: 'data' },
    { id: 4, name: 'Noah', team: 'infra' },
    { id: 5, name: 'Emma', team: 'web' },
    { id: 6, name: 'Zoe', team: 'data' },
  ],
  null,
  1,
);

const CONFIG = JSON.stringify({
  server: { host: 'localhost', port: 8080, tls: { enabled: false } },
  db: { url: 'sqlite:///x.db', pool: { min: 1, max: 4 } },
  debug: true,
});

const TEXT = `The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.
A fox is quick, a dog is lazy, and the quick fox wins the race!`;

const WORDS = ['level', 'agent', 'racecar', 'noon', 'python', 'Madam', 'abcba', 'aa', 'stats', 'refer', 'code'];

const CIPHER_PLAIN = 'Meet me at the old bridge at noon, bring the map.';
const caesar = (s: string, k: number) =>
  s.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + k + 26) % 26) + base);
  });

const COUNTS = `label,count
apples,12
pears,30
plums,6
figs,18
kiwis,24
`;

const EMAILS = ['Ann@Example.com', 'bob@example.com', 'ann@example.com', 'Carl@x.org', 'bob@EXAMPLE.com', 'dee@x.org'];

const MATRIX = [
  [2, -3, 1],
  [2, 0, -1],
  [1, 4, 5],
];
const det3 = (m: number[][]) => {
  const [a, b, c] = m as [number[], number[], number[]];
  return (
    a[0]! * (b[1]! * c[2]! - b[2]! * c[1]!) -
    a[1]! * (b[0]! * c[2]! - b[2]! * c[0]!) +
    a[2]! * (b[0]! * c[1]! - b[1]! * c[0]!)
  );
};

const DATES = ['2024-03-01', '2024-03-02', '2024-03-03', '2024-07-04', '2024-12-25', '2025-01-04', '2025-02-09'];

const NUMBERS = [1994, 4, 9, 14, 40, 90, 400, 2024, 3999];
function roman(n: number): string {
  const table: [number, string][] = [
    [1000, 'M'],
    [900, 'CM'],
    [500, 'D'],
    [400, 'CD'],
    [100, 'C'],
    [90, 'XC'],
    [50, 'L'],
    [40, 'XL'],
    [10, 'X'],
    [9, 'IX'],
    [5, 'V'],
    [4, 'IV'],
    [1, 'I'],
  ];
  let out = '';
  for (const [v, s] of table)
    while (n >= v) {
      out += s;
      n -= v;
    }
  return out;
}

const BRACKETS = ['(a[b]{c})', '(]', '{[()()]}', '((', '', 'x)(', '[{}]()'];
function balanced(s: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  for (const c of s) {
    if ('([{'.includes(c)) stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return false;
  }
  return stack.length === 0;
}

const ORDERS = `order_id,customer_id,qty
1,c1,3
2,c2,1
3,c1,2
4,c3,5
5,c2,4
`;
const PRICES = `customer_id,unit_price
c1,10
c2,2.5
c3,4
`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function primeSum(limit: number): number {
  const sieve = new Uint8Array(limit);
  let sum = 0;
  for (let i = 2; i < limit; i++) {
    if (sieve[i]) continue;
    sum += i;
    for (let j = i * i; j < limit; j += i) sieve[j] = 1;
  }
  return sum;
}

function fib(n: number): number {
  let [a, b] = [0, 1];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

function topWords(text: string, k: number): string[] {
  const counts = new Map<string, number>();
  for (const w of text.toLowerCase().match(/[a-z]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([w]) => w)
    .slice(0, k);
}

function flatten(o: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (o !== null && typeof o === 'object' && !Array.isArray(o)) {
    for (const [k, v] of Object.entries(o)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = o;
  return out;
}

export const AGENT_TASKS: readonly AgentTask[] = [
  {
    id: 'csv-mean',
    task: 'What is the mean of the amount column in sales.csv? Answer with the number rounded to 2 decimals.',
    files: [{ path: 'sales.csv', content: SALES }],
    solution: {
      code: [
        "import csv\nrows = list(csv.DictReader(open('sales.csv')))\nprint(round(sum(float(r['amount']) for r in rows) / len(rows), 2))",
      ],
      answer: (amounts.reduce((a, b) => a + b, 0) / amounts.length).toFixed(2),
    },
    wrongAnswer: (amounts.reduce((a, b) => a + b, 0) / (amounts.length - 1)).toFixed(2),
    check: async (answer) => expectNumber(answer, amounts.reduce((a, b) => a + b, 0) / amounts.length, 0.006),
  },
  {
    id: 'csv-group-sum',
    task: 'Sum the amount per region in sales.csv and write the totals to totals.json as {"region": total}.',
    files: [{ path: 'sales.csv', content: SALES }],
    solution: {
      code: [
        "import csv, json\nt = {}\nfor r in csv.DictReader(open('sales.csv')):\n    t[r['region']] = t.get(r['region'], 0) + float(r['amount'])\njson.dump(t, open('totals.json', 'w'))\nprint(t)",
      ],
      answer: 'Wrote totals.json.',
    },
    check: async (_answer, ws) => {
      const r = await readJson(ws, 'totals.json');
      if ('problem' in r) return r.problem;
      const want: Record<string, number> = {};
      for (const row of salesRows) want[row[0]!] = (want[row[0]!] ?? 0) + Number(row[2]);
      const got = r.value as Record<string, unknown>;
      if (typeof got !== 'object' || got === null) return 'totals.json is not an object';
      for (const [k, v] of Object.entries(want))
        if (typeof got[k] !== 'number' || Math.abs((got[k] as number) - v) > 1e-6)
          return `total of ${k} should be ${v}`;
      if (Object.keys(got).length !== Object.keys(want).length) return 'totals.json has extra regions';
      return undefined;
    },
  },
  {
    id: 'csv-max-median',
    task: 'Give the maximum and the median of the amount column in sales.csv, as "max=X median=Y".',
    files: [{ path: 'sales.csv', content: SALES }],
    solution: {
      code: [
        "import csv, statistics\nxs = [float(r['amount']) for r in csv.DictReader(open('sales.csv'))]\nprint(max(xs), statistics.median(xs))",
      ],
      answer: `max=${Math.max(...amounts)} median=${median(amounts)}`,
    },
    wrongAnswer: `max=${Math.max(...amounts)} median=${amounts.reduce((a, b) => a + b, 0) / amounts.length}`,
    check: async (answer) => {
      const max = /max\s*=\s*(-?[\d.]+)/i.exec(answer)?.[1];
      const med = /median\s*=\s*(-?[\d.]+)/i.exec(answer)?.[1];
      if (max === undefined || med === undefined) return 'answer is not "max=X median=Y"';
      if (Math.abs(Number(max) - Math.max(...amounts)) > 1e-6) return `max should be ${Math.max(...amounts)}`;
      if (Math.abs(Number(med) - median(amounts)) > 1e-6) return `median should be ${median(amounts)}`;
      return undefined;
    },
  },
  {
    id: 'json-group',
    task: "users.json is a list of users. Write by_team.json mapping each team to the sorted list of its members' names.",
    files: [{ path: 'users.json', content: USERS }],
    solution: {
      code: [
        "import json\nby = {}\nfor u in json.load(open('users.json')):\n    by.setdefault(u['team'], []).append(u['name'])\nby = {k: sorted(v) for k, v in by.items()}\njson.dump(by, open('by_team.json', 'w'))\nprint(by)",
      ],
      answer: 'Wrote by_team.json.',
    },
    check: async (_answer, ws) => {
      const r = await readJson(ws, 'by_team.json');
      if ('problem' in r) return r.problem;
      const want: Record<string, string[]> = {};
      for (const u of JSON.parse(USERS) as { name: string; team: string }[]) (want[u.team] ??= []).push(u.name);
      for (const k of Object.keys(want)) want[k]!.sort();
      return sameJson(r.value, want) ? undefined : `by_team.json should be ${JSON.stringify(want)}`;
    },
  },
  {
    id: 'json-flatten',
    task: 'Flatten the nested object in config.json into flat.json with dotted keys (e.g. "server.tls.enabled").',
    files: [{ path: 'config.json', content: CONFIG }],
    solution: {
      code: [
        "import json\ndef flat(o, p=''):\n    out = {}\n    for k, v in o.items():\n        key = p + '.' + k if p else k\n        out.update(flat(v, key) if isinstance(v, dict) else {key: v})\n    return out\njson.dump(flat(json.load(open('config.json'))), open('flat.json', 'w'))\nprint(open('flat.json').read())",
      ],
      answer: 'Wrote flat.json.',
    },
    check: async (_answer, ws) => {
      const r = await readJson(ws, 'flat.json');
      if ('problem' in r) return r.problem;
      const want = flatten(JSON.parse(CONFIG));
      return sameJson(r.value, want) ? undefined : `flat.json should be ${JSON.stringify(want)}`;
    },
  },
  {
    id: 'word-frequency',
    task: 'What are the 3 most frequent words in text.txt (case-insensitive, letters only; ties alphabetical)? Answer as a comma-separated list.',
    files: [{ path: 'text.txt', content: TEXT }],
    solution: {
      code: [
        "import re, collections\nc = collections.Counter(re.findall('[a-z]+', open('text.txt').read().lower()))\ntop = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:3]\nprint(', '.join(w for w, _ in top))",
      ],
      answer: topWords(TEXT, 3).join(', '),
    },
    wrongAnswer: topWords(TEXT, 4).slice(1).join(', '),
    check: async (answer) => {
      const want = topWords(TEXT, 3);
      const got = answer.toLowerCase().match(/[a-z]+/g) ?? [];
      return want.every((w, i) => got[i] === w) ? undefined : `expected ${want.join(', ')}`;
    },
  },
  {
    id: 'palindromes',
    task: 'How many words in words.txt (one per line) are palindromes of 3 letters or more, ignoring case? Answer with the number.',
    files: [{ path: 'words.txt', content: WORDS.join('\n') + '\n' }],
    solution: {
      code: [
        "ws = [w.strip().lower() for w in open('words.txt') if w.strip()]\nprint(sum(1 for w in ws if len(w) >= 3 and w == w[::-1]))",
      ],
      answer: String(
        WORDS.filter((w) => w.length >= 3 && w.toLowerCase() === [...w.toLowerCase()].reverse().join('')).length,
      ),
    },
    wrongAnswer: String(WORDS.filter((w) => w.length >= 3 && w === [...w].reverse().join('')).length),
    check: async (answer) =>
      expectNumber(
        answer,
        WORDS.filter((w) => w.length >= 3 && w.toLowerCase() === [...w.toLowerCase()].reverse().join('')).length,
        0,
      ),
  },
  {
    id: 'caesar',
    task: 'cipher.txt holds text encrypted with a Caesar shift of 3 (letters only, case kept). Decrypt it into plain.txt.',
    files: [{ path: 'cipher.txt', content: caesar(CIPHER_PLAIN, 3) }],
    solution: {
      code: [
        "def shift(c, k):\n    if c.isalpha():\n        b = 65 if c.isupper() else 97\n        return chr((ord(c) - b + k) % 26 + b)\n    return c\nopen('plain.txt', 'w').write(''.join(shift(c, -3) for c in open('cipher.txt').read()))\nprint(open('plain.txt').read())",
      ],
      answer: CIPHER_PLAIN,
    },
    check: async (_answer, ws) => {
      const got = await ws.read('plain.txt');
      if (got === undefined) return 'plain.txt was not written';
      return got.trim() === CIPHER_PLAIN ? undefined : `plain.txt should read "${CIPHER_PLAIN}"`;
    },
  },
  {
    id: 'svg-bar-chart',
    task: 'Draw a bar chart of counts.csv as chart.svg: one <rect> bar per row, in file order, with heights proportional to count.',
    files: [{ path: 'counts.csv', content: COUNTS }],
    solution: {
      code: [
        'import csv\nrows = list(csv.DictReader(open(\'counts.csv\')))\nbars = \'\'.join(f\'<rect x="{i*40}" y="{200-int(r["count"])*5}" width="30" height="{int(r["count"])*5}"/>\' for i, r in enumerate(rows))\nopen(\'chart.svg\', \'w\').write(f\'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="200">{bars}</svg>\')\nprint(len(rows), \'bars\')',
      ],
      answer: 'Saved chart.svg.',
    },
    check: async (_answer, ws) => {
      const svg = await ws.read('chart.svg');
      if (svg === undefined) return 'chart.svg was not written';
      if (!/<svg[\s>]/.test(svg)) return 'chart.svg is not an SVG document';
      const heights = [...svg.matchAll(/<rect\b[^>]*?\bheight\s*=\s*["']?([\d.]+)/g)].map((m) => Number(m[1]));
      const counts = parseCsv(COUNTS)
        .slice(1)
        .map((r) => Number(r[1]));
      if (heights.length !== counts.length) return `expected ${counts.length} bars, found ${heights.length}`;
      const k = heights[0]! / counts[0]!;
      return counts.every((c, i) => Math.abs(heights[i]! - c * k) <= Math.max(1, c * k * 0.02))
        ? undefined
        : 'bar heights are not proportional to the counts';
    },
  },
  {
    id: 'prime-sum',
    task: 'What is the sum of all primes below 10000? Answer with the number.',
    files: [],
    solution: {
      code: [
        'n = 10000\ns = bytearray(n)\ntotal = 0\nfor i in range(2, n):\n    if not s[i]:\n        total += i\n        for j in range(i * i, n, i):\n            s[j] = 1\nprint(total)',
      ],
      answer: String(primeSum(10000)),
    },
    wrongAnswer: String(primeSum(10000) - 2),
    check: async (answer) => expectNumber(answer, primeSum(10000), 0),
  },
  {
    id: 'fibonacci',
    task: 'What is the 50th Fibonacci number, with F(0) = 0 and F(1) = 1? Answer with the number.',
    files: [],
    solution: { code: ['a, b = 0, 1\nfor _ in range(50):\n    a, b = b, a + b\nprint(a)'], answer: String(fib(50)) },
    wrongAnswer: String(fib(49)),
    check: async (answer) => expectNumber(answer, fib(50), 0),
  },
  {
    id: 'dedupe-emails',
    task: 'emails.txt has one address per line with duplicates in mixed case. Write unique.txt: the distinct addresses, lowercased, sorted, one per line.',
    files: [{ path: 'emails.txt', content: EMAILS.join('\n') + '\n' }],
    solution: {
      code: [
        "u = sorted({l.strip().lower() for l in open('emails.txt') if l.strip()})\nopen('unique.txt', 'w').write('\\n'.join(u) + '\\n')\nprint(u)",
      ],
      answer: 'Wrote unique.txt.',
    },
    check: async (_answer, ws) => {
      const r = await readLines(ws, 'unique.txt');
      if ('problem' in r) return r.problem;
      const want = [...new Set(EMAILS.map((e) => e.toLowerCase()))].sort();
      return sameJson(
        r.lines.map((l) => l.trim()),
        want,
      )
        ? undefined
        : `unique.txt should list ${want.join(', ')}`;
    },
  },
  {
    id: 'determinant',
    task: 'matrix.json holds a 3x3 matrix (a list of rows). What is its determinant? Answer with the number.',
    files: [{ path: 'matrix.json', content: JSON.stringify(MATRIX) }],
    solution: {
      code: [
        "import json\nm = json.load(open('matrix.json'))\na, b, c = m\nprint(a[0]*(b[1]*c[2]-b[2]*c[1]) - a[1]*(b[0]*c[2]-b[2]*c[0]) + a[2]*(b[0]*c[1]-b[1]*c[0]))",
      ],
      answer: String(det3(MATRIX)),
    },
    wrongAnswer: String(-det3(MATRIX)),
    check: async (answer) => {
      const want = det3(MATRIX);
      const got = numbersIn(answer);
      // The matrix's own entries may appear in a wordy answer; the last number is the result.
      return got.length && Math.abs(got[got.length - 1]! - want) < 1e-6 ? undefined : `expected ${want}`;
    },
  },
  {
    id: 'weekend-dates',
    task: 'How many of the ISO dates in dates.txt (one per line) fall on a Saturday or Sunday? Answer with the number.',
    files: [{ path: 'dates.txt', content: DATES.join('\n') + '\n' }],
    solution: {
      code: [
        "import datetime\nds = [datetime.date.fromisoformat(l.strip()) for l in open('dates.txt') if l.strip()]\nprint(sum(1 for d in ds if d.weekday() >= 5))",
      ],
      answer: String(DATES.filter((d) => [0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay())).length),
    },
    wrongAnswer: String(DATES.filter((d) => [0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay())).length + 1),
    check: async (answer) =>
      expectNumber(answer, DATES.filter((d) => [0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay())).length, 0),
  },
  {
    id: 'roman-numerals',
    task: 'Convert each number in numbers.txt (one per line) to Roman numerals; write roman.txt with one numeral per line, same order.',
    files: [{ path: 'numbers.txt', content: NUMBERS.join('\n') + '\n' }],
    solution: {
      code: [
        "T = [(1000,'M'),(900,'CM'),(500,'D'),(400,'CD'),(100,'C'),(90,'XC'),(50,'L'),(40,'XL'),(10,'X'),(9,'IX'),(5,'V'),(4,'IV'),(1,'I')]\ndef r(n):\n    s = ''\n    for v, t in T:\n        while n >= v:\n            s += t; n -= v\n    return s\nout = [r(int(l)) for l in open('numbers.txt') if l.strip()]\nopen('roman.txt', 'w').write('\\n'.join(out) + '\\n')\nprint(out)",
      ],
      answer: 'Wrote roman.txt.',
    },
    check: async (_answer, ws) => {
      const r = await readLines(ws, 'roman.txt');
      if ('problem' in r) return r.problem;
      const want = NUMBERS.map(roman);
      const bad = want.findIndex((w, i) => r.lines[i]?.trim() !== w);
      return bad < 0 && r.lines.length === want.length
        ? undefined
        : `line ${bad + 1} should be ${want[bad] ?? '(none)'}`;
    },
  },
  {
    id: 'balanced-brackets',
    task: 'For each line of brackets.txt, say whether its (), [] and {} are balanced (other characters ignored; an empty line is balanced). Write balanced.txt with "yes" or "no" per input line, same order.',
    files: [{ path: 'brackets.txt', content: BRACKETS.join('\n') + '\n' }],
    solution: {
      code: [
        "P = {')': '(', ']': '[', '}': '{'}\ndef ok(s):\n    st = []\n    for c in s:\n        if c in '([{': st.append(c)\n        elif c in P and (not st or st.pop() != P[c]): return False\n    return not st\nlines = open('brackets.txt').read().split('\\n')[:-1]\nopen('balanced.txt', 'w').write('\\n'.join('yes' if ok(l) else 'no' for l in lines) + '\\n')\nprint(open('balanced.txt').read())",
      ],
      answer: 'Wrote balanced.txt.',
    },
    check: async (_answer, ws) => {
      const r = await readLines(ws, 'balanced.txt');
      if ('problem' in r) return r.problem;
      const want = BRACKETS.map((b) => (balanced(b) ? 'yes' : 'no'));
      return sameJson(
        r.lines.map((l) => l.trim().toLowerCase()),
        want,
      )
        ? undefined
        : `balanced.txt should read ${want.join(' ')}`;
    },
  },
  {
    id: 'csv-join-revenue',
    task: 'Join orders.csv with prices.csv on customer_id; what is the total revenue (sum of qty * unit_price)? Answer with the number.',
    files: [
      { path: 'orders.csv', content: ORDERS },
      { path: 'prices.csv', content: PRICES },
    ],
    solution: {
      code: [
        "import csv\np = {r['customer_id']: float(r['unit_price']) for r in csv.DictReader(open('prices.csv'))}\nprint(sum(int(r['qty']) * p[r['customer_id']] for r in csv.DictReader(open('orders.csv'))))",
      ],
      answer: String(revenue()),
    },
    wrongAnswer: String(revenue() + 10),
    check: async (answer) => expectNumber(answer, revenue(), 1e-6),
  },
];

function revenue(): number {
  const price = new Map(
    parseCsv(PRICES)
      .slice(1)
      .map((r) => [r[0]!, Number(r[1])] as const),
  );
  return parseCsv(ORDERS)
    .slice(1)
    .reduce((sum, r) => sum + Number(r[2]) * (price.get(r[1]!) ?? NaN), 0);
}
