/**
 * Static analysis: median time for a 200-line cell per language, cold (a new
 * cell each time) and cached (the same cell again), and precision/recall of
 * the rules on the labelled corpus (src/analysis/corpus.ts).
 */
import { Analyzer } from '../analysis/analyzer.js';
import { CORPUS } from '../analysis/corpus.js';
import type { Language } from '../sandbox/executor.js';
import { SessionGraph } from '../sessions/graph.js';
import { makeRow, type ReportRow } from './report.js';

const LINES: Record<Language, (i: number) => string> = {
  python: (i) =>
    i % 5 === 0
      ? `df${i} = pd.read_csv('data${i}.csv')`
      : i % 5 === 1
        ? `print(df${i - 1}.groupby('a').agg({'b': 'sum'}).head())`
        : i % 5 === 2
          ? `for k in range(3):`
          : i % 5 === 3
            ? `    total${i} = np.sum([k, ${i}]) * 2`
            : `plt.plot([1, 2, ${i}])`,
  javascript: (i) =>
    i % 2 ? `const v${i} = [1, 2, ${i}].map((x) => x * 2);` : `console.log(JSON.stringify({ a: v${i - 1} }));`,
  typescript: (i) =>
    i % 2
      ? `const v${i}: number[] = [1, 2, ${i}].map((x: number) => x * 2);`
      : `console.log(JSON.stringify({ a: v${i - 1} }));`,
  bash: (i) => (i % 2 ? `echo "line ${i}" >> out.txt` : `wc -l out.txt | awk '{print $1}'`),
};
const HEADERS: Record<Language, string> = {
  python: 'import pandas as pd\nimport numpy as np\nimport matplotlib.pyplot as plt\n',
  javascript: '',
  typescript: '',
  bash: '',
};

function cell(language: Language, salt: number): string {
  let s =
    HEADERS[language] + (language === 'bash' ? `# ${salt}\n` : language === 'python' ? `# ${salt}\n` : `// ${salt}\n`);
  for (let i = 1; i <= 200; i++) s += LINES[language](i) + '\n';
  return s;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export async function runAnalysisBench(iterations = 60): Promise<Record<string, unknown>> {
  const analyzer = new Analyzer({ cacheSize: 4 * iterations + 16 });
  const timing: Record<string, { coldMs: number; cachedMs: number }> = {};
  try {
    for (const language of ['python', 'javascript', 'typescript', 'bash'] as const) {
      await analyzer.analyze({ language, code: cell(language, -1) }); // warm the helper and the parsers
      const cold: number[] = [];
      const cached: number[] = [];
      for (let i = 0; i < iterations; i++) {
        const code = cell(language, i);
        let t = performance.now();
        const r = await analyzer.analyze({ language, code });
        cold.push(performance.now() - t);
        if (r.findings.length || r.syntaxError) throw new Error(`the ${language} bench cell is not clean`);
        t = performance.now();
        await analyzer.analyze({ language, code });
        cached.push(performance.now() - t);
      }
      timing[language] = { coldMs: median(cold), cachedMs: median(cached) };
    }
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const c of CORPUS) {
      const r = await analyzer.analyze({ language: c.language, code: c.code, ...(c.tools ? { tools: c.tools } : {}) });
      const got = new Set(r.findings.map((f) => `${f.rule}@${f.line}`));
      const want = new Set(c.expect);
      for (const g of got) {
        if (want.has(g)) tp++;
        else fp++;
      }
      for (const w of want) if (!got.has(w)) fn++;
    }
    const precision = tp + fp === 0 ? 1 : tp / (tp + fp);
    const recall = tp + fn === 0 ? 1 : tp / (tp + fn);
    console.log('analysis of a 200-line cell, median ms (cold = new content, cached = same content again)');
    for (const [lang, t] of Object.entries(timing))
      console.log(`  ${lang.padEnd(11)} cold ${t.coldMs.toFixed(3).padStart(7)}   cached ${t.cachedMs.toFixed(4)}`);
    console.log(
      `corpus: ${CORPUS.length} cases, ${tp + fn} expected findings; precision ${precision.toFixed(3)}, recall ${recall.toFixed(3)} (tp ${tp}, fp ${fp}, fn ${fn})`,
    );
    const rows = await benchRows(analyzer, iterations);
    return { timing, corpus: { cases: CORPUS.length, tp, fp, fn, precision, recall }, rows };
  } finally {
    analyzer.close();
  }
}

/**
 * Rows for the report: a fresh 200-line Python cell beside its floor (the
 * helper's round trip for a one-line cell), the cache-hit path, and the graph
 * update after a cell runs in a 200-cell session.
 */
async function benchRows(analyzer: Analyzer, iterations: number): Promise<ReportRow[]> {
  const fresh: number[] = [];
  const floor: number[] = [];
  const hit: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const code = cell('python', 10_000 + i);
    let t = performance.now();
    await analyzer.analyze({ language: 'python', code: `# ${i}\nx = 1\n` });
    floor.push(performance.now() - t);
    t = performance.now();
    await analyzer.analyze({ language: 'python', code });
    fresh.push(performance.now() - t);
    t = performance.now();
    await analyzer.analyze({ language: 'python', code });
    hit.push(performance.now() - t);
  }
  const graphSamples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const g = new SessionGraph();
    for (let n = 1; n <= 200; n++)
      g.add({
        executionCount: n,
        kind: 'execute',
        status: 'ok',
        dataflow: { defs: [`v${n}`, 'df'], uses: [`v${n - 1}`, `v${n >> 1}`, 'df'], unknown: [] },
      });
    const t = performance.now();
    g.add({
      executionCount: 201,
      kind: 'execute',
      status: 'ok',
      dataflow: { defs: ['v1'], uses: ['v200'], unknown: [] },
    });
    g.view();
    graphSamples.push(performance.now() - t);
  }
  const rows = [
    makeRow('analysis: fresh 200-line Python cell (floor: 1-line cell round trip)', fresh, floor, {
      kind: 'under',
      ms: 2,
    }),
    makeRow('analysis: same cell again (cache hit)', hit, null, { kind: 'under', ms: 0.1 }),
    makeRow('graph: add a cell + stale marking, 200-cell session', graphSamples, null, { kind: 'under', ms: 2 }),
  ];
  for (const r of rows) console.log(`  ${r.subject}: median ${r.median} ms (floor ${r.floor ?? '-'}) ${r.verdict}`);
  return rows;
}
