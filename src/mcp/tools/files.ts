/**
 * The workspace file tools: write, read (text as text, images as image
 * content, other binary data as base64; large files clipped and linked), list
 * and delete. Paths are checked by the session service, inside the sandbox.
 */
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { defineTool, type CallToolResult } from './define-tool.js';
import { decodeContent, decodeText, mimeTypeOf, sessionFileUri, text, type ToolEnv } from './env.js';
import {
  encoding,
  FILE_ENTRY_OUTPUT,
  LIST_FILES_OUTPUT,
  READ_FILE_OUTPUT,
  sessionId,
  workspacePath,
} from './schemas.js';

export const writeFile = defineTool({
  name: 'write_file',
  title: 'Write a workspace file',
  description:
    'Create or overwrite a file in a session workspace (parent directories are created). Use encoding "base64" for ' +
    'binary data. mode "append" adds to the end of the file: send a file over 16 MiB as chunks in order, the first ' +
    'with mode "overwrite" and the rest with "append".',
  input: z.object({
    session_id: sessionId,
    path: workspacePath,
    content: z
      .string()
      .max(16 * 1024 * 1024)
      .describe('File content, encoded as given by "encoding". At most 16 MiB per call.'),
    encoding,
    mode: z
      .enum(['overwrite', 'append'])
      .default('overwrite')
      .describe('"overwrite" (default) replaces the file; "append" adds content to its end (created if missing).'),
  }),
  output: FILE_ENTRY_OUTPUT,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const bytes = decodeContent(args.content, args.encoding, 'content');
    const append = args.mode === 'append';
    const entry = await env.sessions.writeFile(args.session_id, args.path, bytes, env.owner, { append });
    return {
      content: text(
        `${append ? `appended ${bytes.length} bytes to` : 'wrote'} ${entry.path} (${entry.size} bytes) in session ${args.session_id}`,
      ),
      structuredContent: { session_id: args.session_id, path: entry.path, size: entry.size },
    };
  },
});

export const readFile = defineTool({
  name: 'read_file',
  title: 'Read a workspace file',
  description:
    'Read a file from a session workspace. Text comes back as text, images (png, jpeg, gif, webp) as images, ' +
    'other binary files as base64. Large files are clipped; the reply links to the full file.',
  input: z.object({
    session_id: sessionId,
    path: workspacePath,
    encoding: z
      .enum(['auto', 'utf8', 'base64'])
      .default('auto')
      .describe('"auto" (default) returns text as text, images as image content and other binary data as base64.'),
  }),
  output: READ_FILE_OUTPUT,
  annotations: { readOnlyHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const bytes = await env.sessions.readFile(args.session_id, args.path, env.owner);
    const asText = args.encoding === 'base64' ? undefined : decodeText(bytes);
    if (args.encoding === 'utf8' && asText === undefined) {
      throw new AppError('INVALID_ARGUMENT', `${args.path} is not UTF-8 text; read it with encoding "base64"`, {
        argument: 'encoding',
      });
    }
    const mimeType = mimeTypeOf(args.path, asText !== undefined);
    const uri = sessionFileUri(args.session_id, args.path);
    const encoded = asText ?? Buffer.from(bytes).toString('base64');
    const clipped = encoded.length > env.readFileChars;
    const body = clipped ? encoded.slice(0, env.readFileChars) : encoded;
    const structured = {
      session_id: args.session_id,
      path: args.path,
      size: bytes.byteLength,
      encoding: asText === undefined ? 'base64' : 'utf8',
      mime_type: mimeType,
      content: body,
      truncated: clipped,
      uri,
    };
    const content: CallToolResult['content'] = [];
    if (asText === undefined && mimeType.startsWith('image/') && args.encoding === 'auto' && !clipped) {
      // The bytes go once, as the image: a second base64 copy in structuredContent would double the reply.
      structured.content = '';
      content.push({ type: 'text', text: `${args.path}: ${mimeType}, ${bytes.byteLength} bytes (shown as an image)` });
      content.push({ type: 'image', data: encoded, mimeType });
    } else {
      const head = `${args.path}: ${bytes.byteLength} bytes, ${structured.encoding}${clipped ? `, clipped to ${env.readFileChars} characters` : ''}`;
      content.push({ type: 'text', text: `${head}\n${body}` });
    }
    if (clipped) content.push({ type: 'resource_link', uri, name: args.path, mimeType, description: 'The full file.' });
    return { content, structuredContent: structured };
  },
});

export const listFiles = defineTool({
  name: 'list_files',
  title: 'List workspace files',
  description: 'List the files in a session workspace (recursively) with their sizes in bytes.',
  input: z.object({
    session_id: sessionId,
    path: z.string().max(4096).optional().describe('Directory to list, relative to the workspace. Omit for all files.'),
  }),
  output: LIST_FILES_OUTPUT,
  annotations: { readOnlyHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const files = await env.sessions.listFiles(args.session_id, args.path, env.owner);
    const lines = files.map((f) => `${f.path}  ${f.size}`);
    return {
      content: text(files.length === 0 ? 'no files' : lines.join('\n')),
      structuredContent: { session_id: args.session_id, files: files.map((f) => ({ path: f.path, size: f.size })) },
    };
  },
});

export const deleteFile = defineTool({
  name: 'delete_file',
  title: 'Delete a workspace file',
  description: 'Delete a file from a session workspace.',
  input: z.object({ session_id: sessionId, path: workspacePath }),
  output: FILE_ENTRY_OUTPUT,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    await env.sessions.deleteFile(args.session_id, args.path, env.owner);
    return {
      content: text(`deleted ${args.path} in session ${args.session_id}`),
      structuredContent: { session_id: args.session_id, path: args.path, size: 0 },
    };
  },
});

const folder = z
  .string()
  .max(4096)
  .default('')
  .describe('Folder inside the workspace, relative; "" (default) is the workspace itself.');

export const importArchive = defineTool({
  name: 'import_archive',
  title: 'Unpack an archive into a workspace',
  description:
    'Unpack a tar (plain, .gz, .bz2, .xz) or zip archive, base64-encoded, into a folder of a session workspace. ' +
    'Every entry is checked before anything is written: absolute names, "..", links that leave the folder, ' +
    'hard links to files outside the archive, devices and FIFOs are refused, and so is an archive with more ' +
    'than 20,000 entries or one that does not fit in the workspace.',
  input: z.object({
    session_id: sessionId,
    path: folder,
    content: z
      .string()
      .max(24 * 1024 * 1024)
      .describe('The archive, base64-encoded (at most 16 MiB of archive per call).'),
  }),
  output: z.object({ session_id: z.string(), path: z.string(), entries: z.number(), bytes: z.number() }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const archive = decodeContent(args.content, 'base64', 'content');
    const r = await env.sessions.importArchive(args.session_id, args.path, archive, env.owner);
    return {
      content: text(`unpacked ${r.entries} entries (${r.bytes} bytes) into ${args.path || 'the workspace'}`),
      structuredContent: { session_id: args.session_id, path: args.path, entries: r.entries, bytes: r.bytes },
    };
  },
});

export const exportArchive = defineTool({
  name: 'export_archive',
  title: 'Pack a workspace folder',
  description:
    'Pack a folder of a session workspace (or all of it) as a .tar.gz, returned base64-encoded; links are kept as links.',
  input: z.object({ session_id: sessionId, path: folder }),
  output: z.object({ session_id: z.string(), path: z.string(), size: z.number(), content: z.string() }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const bytes = await env.sessions.exportArchive(args.session_id, args.path, env.owner);
    const encoded = Buffer.from(bytes).toString('base64');
    return {
      content: text(
        `${args.path || 'workspace'}.tar.gz: ${bytes.byteLength} bytes (base64 in structuredContent.content)`,
      ),
      structuredContent: { session_id: args.session_id, path: args.path, size: bytes.byteLength, content: encoded },
    };
  },
});
