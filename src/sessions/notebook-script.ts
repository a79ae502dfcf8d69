/**
 * A session's notebook (the one export, ./notebook.ts) as a plain script, the
 * way `jupyter nbconvert --to script` does it: code cells in order, each
 * under a percent marker (`# %%` in Python and Bash, `// %%` in JS/TS).
 * Cells that did not succeed are kept but commented out, so the script runs
 * what the session actually ran; script runs become comments. Pure: no I/O.
 */
import type { Language } from '../sandbox/executor.js';
import type { SessionService } from './contract.js';

export type ExportFormat = 'ipynb' | 'script';

export interface ScriptExport {
  text: string;
  /** File extension with its dot, e.g. ".py". */
  extension: string;
  mimeType: string;
}

const SCRIPT_KINDS: Record<Language, { comment: string; extension: string; mimeType: string; header?: string }> = {
  python: { comment: '#', extension: '.py', mimeType: 'text/x-python' },
  javascript: { comment: '//', extension: '.js', mimeType: 'text/javascript' },
  typescript: { comment: '//', extension: '.ts', mimeType: 'text/typescript' },
  bash: { comment: '#', extension: '.sh', mimeType: 'text/x-sh', header: '#!/usr/bin/env bash' },
};

/** The notebook's language from its metadata (python when it names none we know). */
function languageOf(nb: NotebookShape): Language {
  const name = nb.metadata?.kernelspec?.language ?? nb.metadata?.language_info?.name;
  return name !== undefined && name in SCRIPT_KINDS ? (name as Language) : 'python';
}

interface NotebookShape {
  metadata?: {
    kernelspec?: { language?: string };
    language_info?: { name?: string };
    codemode?: { sessionId?: string };
  };
  cells?: {
    cell_type?: string;
    source?: string[] | string;
    execution_count?: number | null;
    metadata?: { codemode?: { status?: string } };
    outputs?: { output_type?: string; ename?: string; evalue?: string }[];
  }[];
}

function sourceText(source: string[] | string | undefined): string {
  return (Array.isArray(source) ? source.join('') : (source ?? '')).replace(/\n+$/, '');
}

/** Convert nbformat JSON (as SessionService.exportNotebook returns it) to a script in the session's language. */
export function notebookToScript(notebookJson: string): ScriptExport {
  const nb = JSON.parse(notebookJson) as NotebookShape;
  const language = languageOf(nb);
  const kind = SCRIPT_KINDS[language];
  const c = kind.comment;
  const commented = (text: string) =>
    text
      .split('\n')
      .map((l) => (l === '' ? c : `${c} ${l}`))
      .join('\n');
  const parts: string[] = [];
  if (kind.header) parts.push(kind.header);
  const session = nb.metadata?.codemode?.sessionId;
  parts.push(`${c} codemode session${session ? ` ${session}` : ''} (${language}), exported as a script`);
  for (const cell of nb.cells ?? []) {
    const source = sourceText(cell.source);
    if (cell.cell_type !== 'code') {
      parts.push(`\n${c} %% [markdown]\n${commented(source)}`);
      continue;
    }
    const n = cell.execution_count ?? '';
    const status = cell.metadata?.codemode?.status ?? 'ok';
    if (status === 'ok') {
      parts.push(`\n${c} %% In[${n}]\n${source}`);
      continue;
    }
    const err = cell.outputs?.find((o) => o.output_type === 'error');
    const why = err?.ename ? `${status}: ${err.ename}${err.evalue ? `: ${err.evalue}` : ''}` : status;
    parts.push(`\n${c} %% In[${n}] (${why.split('\n')[0]}; commented out)\n${commented(source)}`);
  }
  return { text: `${parts.join('\n')}\n`, extension: kind.extension, mimeType: kind.mimeType };
}

/** A session's history as a notebook or a script: the text and the file facts that go with it. */
export function exportSession(
  sessions: Pick<SessionService, 'exportNotebook'>,
  id: string,
  format: ExportFormat,
  owner?: string,
): ScriptExport {
  const notebook = sessions.exportNotebook(id, owner);
  if (format === 'ipynb') return { text: notebook, extension: '.ipynb', mimeType: 'application/x-ipynb+json' };
  return notebookToScript(notebook);
}
