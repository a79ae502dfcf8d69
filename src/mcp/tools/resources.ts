/**
 * The resource templates: a session's history (JSON) and notebook (nbformat
 * 4), workspace files, and the full output of a clipped one-shot run. Reads
 * map AppErrors to protocol errors here (ResourceReadError); the mount picks
 * the JSON-RPC codes.
 */
import { isAppError } from '../../errors.js';
import { OutputStore } from '../output-store.js';
import { defineResourceTemplate, ResourceReadError, type TemplateVariables } from './define-tool.js';
import { decodeText, mimeTypeOf, sessionFileUri, sessionHistoryUri, sessionNotebookUri, type ToolEnv } from './env.js';

const NOTEBOOK_MIME = 'application/x-ipynb+json';

function variable(value: TemplateVariables[string] | undefined): string {
  const v = Array.isArray(value) ? value.join(',') : (value ?? '');
  try {
    return decodeURIComponent(v);
  } catch {
    return v; // not percent-encoded as a whole: take it as written
  }
}

function resourceError(error: unknown, uri: string): ResourceReadError {
  if (isAppError(error, 'NOT_FOUND') || isAppError(error, 'PATH_ESCAPE')) {
    return new ResourceReadError('not_found', `Resource not found: ${uri}`, uri);
  }
  if (isAppError(error) && error.code !== 'INTERNAL') {
    return new ResourceReadError('invalid_params', error.message, uri, { code: error.code });
  }
  return new ResourceReadError('internal', 'Internal error while reading the resource', uri);
}

export const sessionHistory = defineResourceTemplate<ToolEnv>({
  name: 'session-history',
  uriTemplate: 'codemode://sessions/{session_id}/history',
  title: 'Session history',
  description: 'Every execution of a session: code, status, output and error, as JSON.',
  mimeType: 'application/json',
  list: async ({ sessions, owner }) =>
    sessions.list(owner).map((s) => ({
      uri: sessionHistoryUri(s.id),
      name: `history of session ${s.id}`,
      mimeType: 'application/json',
    })),
  read: async (uri, vars, { sessions, owner }) => {
    try {
      const history = sessions.history(variable(vars['session_id']), owner);
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(history, null, 2) }] };
    } catch (error) {
      throw resourceError(error, uri.href);
    }
  },
});

export const sessionNotebook = defineResourceTemplate<ToolEnv>({
  name: 'session-notebook',
  uriTemplate: 'codemode://sessions/{session_id}/notebook',
  title: 'Session as a Jupyter notebook',
  description: 'The session history as a Jupyter notebook (nbformat 4): code cells with their outputs and images.',
  mimeType: NOTEBOOK_MIME,
  list: async ({ sessions, owner }) =>
    sessions.list(owner).map((s) => ({
      uri: sessionNotebookUri(s.id),
      name: `session ${s.id} as a notebook`,
      mimeType: NOTEBOOK_MIME,
    })),
  read: async (uri, vars, { sessions, owner }) => {
    try {
      const notebook = sessions.exportNotebook(variable(vars['session_id']), owner);
      return { contents: [{ uri: uri.href, mimeType: NOTEBOOK_MIME, text: notebook }] };
    } catch (error) {
      throw resourceError(error, uri.href);
    }
  },
});

export const sessionFile = defineResourceTemplate<ToolEnv>({
  name: 'session-file',
  uriTemplate: 'codemode://sessions/{session_id}/files/{+path}',
  title: 'Workspace file',
  description: 'A file in a session workspace.',
  list: async ({ sessions, owner }) => {
    const resources: { uri: string; name: string; mimeType: string }[] = [];
    for (const s of sessions.list(owner)) {
      const files = await sessions.listFiles(s.id, undefined, owner).catch(() => []); // closed meanwhile
      for (const f of files.slice(0, Math.max(0, 1000 - resources.length))) {
        resources.push({ uri: sessionFileUri(s.id, f.path), name: f.path, mimeType: mimeTypeOf(f.path, true) });
      }
    }
    return resources;
  },
  read: async (uri, vars, { sessions, owner }) => {
    try {
      const path = variable(vars['path']);
      const bytes = await sessions.readFile(variable(vars['session_id']), path, owner);
      const asText = decodeText(bytes);
      const mimeType = mimeTypeOf(path, asText !== undefined);
      return {
        contents: [
          asText === undefined
            ? { uri: uri.href, mimeType, blob: Buffer.from(bytes).toString('base64') }
            : { uri: uri.href, mimeType, text: asText },
        ],
      };
    } catch (error) {
      throw resourceError(error, uri.href);
    }
  },
});

export const runOutput = defineResourceTemplate<ToolEnv>({
  name: 'run-output',
  uriTemplate: 'codemode://outputs/{output_id}',
  title: 'Full run output',
  description: 'The full stdout or stderr of a one-shot run whose reply was clipped.',
  list: async ({ outputs, owner }) =>
    outputs.list(owner).map((o) => ({ uri: OutputStore.uri(o.id), name: o.name, mimeType: 'text/plain' })),
  read: async (uri, vars, { outputs, owner }) => {
    const entry = outputs.get(variable(vars['output_id']), owner);
    if (entry === undefined) throw new ResourceReadError('not_found', `Resource not found: ${uri.href}`, uri.href);
    return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: entry.text }] };
  },
});
