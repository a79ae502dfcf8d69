/**
 * Pure conversion of a session's execution history to a Jupyter notebook
 * (nbformat 4.5): one code cell per execution with its streams, rich outputs
 * and error. Script runs become markdown cells. No I/O.
 */
import type { ExecutionRecord } from './contract.js';
import type { Language } from '../sandbox/executor.js';

type NotebookOutput =
  | { output_type: 'stream'; name: 'stdout' | 'stderr'; text: string[] }
  | { output_type: 'execute_result'; execution_count: number; data: Record<string, unknown>; metadata: object }
  | { output_type: 'display_data'; data: Record<string, unknown>; metadata: object }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

interface NotebookCell {
  id: string;
  cell_type: 'code' | 'markdown';
  metadata: Record<string, unknown>;
  source: string[];
  execution_count?: number | null;
  outputs?: NotebookOutput[];
}

const KERNELSPECS: Record<
  Language,
  { name: string; display_name: string; language: string; file_extension: string; mimetype: string }
> = {
  python: {
    name: 'python3',
    display_name: 'Python 3',
    language: 'python',
    file_extension: '.py',
    mimetype: 'text/x-python',
  },
  javascript: {
    name: 'javascript',
    display_name: 'JavaScript (Node.js)',
    language: 'javascript',
    file_extension: '.js',
    mimetype: 'text/javascript',
  },
  typescript: {
    name: 'typescript',
    display_name: 'TypeScript',
    language: 'typescript',
    file_extension: '.ts',
    mimetype: 'text/typescript',
  },
  bash: { name: 'bash', display_name: 'Bash', language: 'bash', file_extension: '.sh', mimetype: 'text/x-sh' },
};

/** Split text into nbformat's list-of-lines form (each line keeps its newline). */
export function toLines(text: string): string[] {
  if (text === '') return [];
  const out = text.split(/(?<=\n)/);
  return out;
}

function mimeData(data: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [mime, value] of Object.entries(data)) {
    if (mime === 'application/json') {
      try {
        out[mime] = JSON.parse(value);
        continue;
      } catch {
        // keep as text
      }
    }
    out[mime] = mime.startsWith('image/') && mime !== 'image/svg+xml' ? value : toLines(value);
  }
  return out;
}

export function toNotebook(records: ExecutionRecord[], language: Language, sessionId?: string): object {
  const cells: NotebookCell[] = [];
  for (const [i, r] of records.entries()) {
    const id = `cell-${i + 1}-${r.id.replace(/[^A-Za-z0-9-]/g, '').slice(0, 12)}`;
    if (r.kind === 'restart') {
      cells.push({
        id,
        cell_type: 'markdown',
        metadata: {},
        source: ['*Kernel restarted: variables defined above are gone.*'],
      });
      continue;
    }
    if (r.kind === 'script') {
      cells.push({
        id,
        cell_type: 'markdown',
        metadata: {},
        source: toLines(`Ran \`${r.code}\` (status: ${r.status})\n\n\`\`\`\n${r.stdout}${r.stderr}\`\`\``),
      });
      continue;
    }
    const outputs: NotebookOutput[] = [];
    if (r.stdout) outputs.push({ output_type: 'stream', name: 'stdout', text: toLines(r.stdout) });
    if (r.stderr && !(r.error?.traceback && r.stderr.trim() === r.error.traceback.trim())) {
      outputs.push({ output_type: 'stream', name: 'stderr', text: toLines(r.stderr) });
    }
    for (const o of r.outputs) {
      if (o.kind === 'result') {
        outputs.push({
          output_type: 'execute_result',
          execution_count: r.executionCount,
          data: mimeData(o.data),
          metadata: {},
        });
      } else {
        outputs.push({ output_type: 'display_data', data: mimeData(o.data), metadata: {} });
      }
    }
    if (r.error) {
      outputs.push({
        output_type: 'error',
        ename: r.error.type,
        evalue: r.error.message,
        traceback: (r.error.traceback ?? `${r.error.type}: ${r.error.message}`).split('\n'),
      });
    }
    cells.push({
      id,
      cell_type: 'code',
      metadata: { codemode: { status: r.status, durationMs: r.durationMs, startedAt: r.startedAt } },
      source: toLines(r.code),
      execution_count: r.executionCount,
      outputs,
    });
  }
  const spec = KERNELSPECS[language];
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: spec.name, display_name: spec.display_name, language: spec.language },
      language_info: { name: spec.language, file_extension: spec.file_extension, mimetype: spec.mimetype },
      ...(sessionId ? { codemode: { sessionId } } : {}),
    },
    cells,
  };
}
