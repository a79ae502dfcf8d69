/**
 * The codemode tools and resource templates, each defined once in the module
 * beside this file; ../server.ts mounts them on the SDK.
 */
import type { AnyToolDefinition, ResourceTemplateDefinition } from './define-tool.js';
import type { ToolEnv } from './env.js';
import { runAgentTool } from './agent.js';
import { checkCode } from './analysis.js';
import { executeCode, runScript } from './execute.js';
import { rerunDownstream, sessionGraphTool } from './graph.js';
import { deleteFile, exportArchive, importArchive, listFiles, readFile, writeFile } from './files.js';
import { exportNotebook, getHistory } from './history.js';
import { listKitsTool } from './kits.js';
import { gitTool, runTestsTool } from './projects.js';
import { runOutput, sessionFile, sessionHistory, sessionNotebook } from './resources.js';
import { closeSession, createSession, interruptSession, listSessions, restartSession } from './sessions.js';

export const CODEMODE_TOOLS: readonly AnyToolDefinition<ToolEnv>[] = [
  executeCode,
  runScript,
  createSession,
  listSessions,
  restartSession,
  interruptSession,
  closeSession,
  writeFile,
  readFile,
  listFiles,
  deleteFile,
  importArchive,
  exportArchive,
  checkCode,
  sessionGraphTool,
  rerunDownstream,
  getHistory,
  exportNotebook,
  runTestsTool,
  gitTool,
  listKitsTool,
  runAgentTool,
];

export const CODEMODE_RESOURCE_TEMPLATES: readonly ResourceTemplateDefinition<ToolEnv>[] = [
  sessionHistory,
  sessionNotebook,
  sessionFile,
  runOutput,
];
