/**
 * The rules, as data. Each pattern is structural: it matches facts a real
 * parser extracted (resolved imports, calls, attribute reads, shell commands,
 * loops), never raw source text. Defaults never block ordinary data-analysis
 * code: only wiping the workspace and calling a tool that needs approval block.
 */
import type { Rule } from './types.js';

const PY_NET_MODULES = [
  'socket',
  'requests',
  'httpx',
  'aiohttp',
  'urllib.request',
  'urllib3',
  'http.client',
  'ftplib',
  'smtplib',
  'telnetlib',
  'paramiko',
  'websocket',
  'websockets',
  'pycurl',
];
const JS_NET_MODULES = ['http', 'https', 'http2', 'net', 'dgram', 'tls', 'axios', 'node-fetch', 'undici', 'ws', 'got'];
const NET_COMMANDS = [
  'curl',
  'wget',
  'nc',
  'ncat',
  'netcat',
  'ssh',
  'scp',
  'sftp',
  'telnet',
  'ftp',
  'ping',
  'dig',
  'nslookup',
  'git clone',
  'git fetch',
  'git pull',
  'git push',
];
const INSTALL_COMMANDS = [
  'pip install',
  'pip3 install',
  'pip download',
  'uv pip install',
  'uv add',
  'conda install',
  'mamba install',
  'npm install',
  'npm i',
  'npm add',
  'npm ci',
  'yarn add',
  'pnpm add',
  'pnpm install',
  'apt install',
  'apt-get install',
  'apk add',
  'yum install',
  'dnf install',
  'gem install',
  'cargo install',
  'go install',
  'go get',
];
const SHELLS = ['bash', 'sh', 'dash', 'zsh', 'ksh', 'eval', 'setsid'];

const NO_NETWORK = 'The sandbox has no network: this connection will fail.';
const NET_HINT =
  'Work with files in the workspace instead: ask the user to upload the data, or use data the task already provides.';
const INSTALL_MSG =
  'Installing packages is not available in the sandbox (no network, read-only system): the command will fail.';
const INSTALL_HINT =
  'Use what is preinstalled: Python has numpy, pandas, matplotlib and the standard library; Node has its standard library. Ask the operator for a kit when you need more.';
const WIPE_MSG =
  'This deletes or overwrites the whole workspace (every file the user and earlier runs left there). The operator does not allow it.';
const WIPE_HINT =
  'Delete only the files you created, by name or under a subdirectory of your own (e.g. shutil.rmtree("out/tmp")).';
const SPAWN_MSG = 'This starts another process or a shell.';
const SPAWN_HINT =
  'Prefer the language itself (pathlib/os for files, pandas for data) over shelling out; if you need a shell, run bash code directly.';
const ENV_MSG =
  "This reads the process environment. The sandbox's environment is minimal and holds no credentials or configuration.";
const ENV_HINT = 'Pass values as code, arguments or files in the workspace instead of environment variables.';
const LOOP_MSG =
  'This loop has no exit (no break, return, raise or exit in its body): it will run until the time limit stops it.';
const LOOP_HINT = 'Add a bound (for i in range(n)) or a break condition.';

export const RULES: readonly Rule[] = [
  {
    id: 'network.python',
    family: 'network',
    languages: ['python'],
    pattern: { imports: PY_NET_MODULES },
    severity: 'warn',
    message: `Network client imported. ${NO_NETWORK}`,
    hint: NET_HINT,
  },
  {
    id: 'network.url-read',
    family: 'network',
    languages: ['python'],
    pattern: {
      calls: ['pandas.read_*', 'numpy.loadtxt', 'numpy.genfromtxt', 'PIL.Image.open'],
      argument: { index: 0, test: 'url' },
    },
    severity: 'warn',
    message: `Reading a URL. ${NO_NETWORK}`,
    hint: NET_HINT,
  },
  {
    id: 'network.javascript',
    family: 'network',
    languages: ['javascript', 'typescript'],
    pattern: {
      imports: JS_NET_MODULES,
      calls: ['fetch', 'globalThis.fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource', 'net.*', 'http.*', 'https.*'],
    },
    severity: 'warn',
    message: `Network use. ${NO_NETWORK}`,
    hint: NET_HINT,
  },
  {
    id: 'network.command',
    family: 'network',
    languages: ['bash', 'python', 'javascript', 'typescript'],
    pattern: { commands: NET_COMMANDS, accesses: ['/dev/tcp/*', '/dev/udp/*'] },
    severity: 'warn',
    message: `Network command. ${NO_NETWORK}`,
    hint: NET_HINT,
  },
  {
    id: 'packages.install',
    family: 'packages',
    languages: ['bash', 'python', 'javascript', 'typescript'],
    pattern: { commands: INSTALL_COMMANDS, calls: ['pip.main', 'pip._internal.main'] },
    severity: 'warn',
    message: INSTALL_MSG,
    hint: INSTALL_HINT,
  },
  {
    id: 'process.python',
    family: 'process',
    languages: ['python'],
    pattern: {
      calls: [
        'subprocess.*',
        'os.system',
        'os.popen',
        'os.exec*',
        'os.spawn*',
        'os.posix_spawn*',
        'os.fork',
        'os.forkpty',
        'pty.spawn',
        'asyncio.create_subprocess_*',
        'multiprocessing.Process',
      ],
    },
    severity: 'warn',
    message: SPAWN_MSG,
    hint: SPAWN_HINT,
  },
  {
    id: 'process.javascript',
    family: 'process',
    languages: ['javascript', 'typescript'],
    pattern: {
      imports: ['child_process', 'worker_threads', 'cluster'],
      calls: ['child_process.*', 'Bun.spawn*', 'Deno.Command'],
    },
    severity: 'warn',
    message: SPAWN_MSG,
    hint: SPAWN_HINT,
  },
  {
    id: 'process.shell',
    family: 'process',
    languages: ['bash'],
    pattern: { commands: SHELLS },
    severity: 'warn',
    message: 'This starts a nested shell or interpreter.',
    hint: 'Run the commands directly in this script, or run the other language as its own code.',
  },
  {
    id: 'env.python',
    family: 'env',
    languages: ['python'],
    pattern: { accesses: ['os.environ', 'os.environb'], calls: ['os.getenv', 'os.getenvb'] },
    severity: 'warn',
    message: ENV_MSG,
    hint: ENV_HINT,
  },
  {
    id: 'env.javascript',
    family: 'env',
    languages: ['javascript', 'typescript'],
    pattern: { accesses: ['process.env', 'Deno.env', 'Bun.env'] },
    severity: 'warn',
    message: ENV_MSG,
    hint: ENV_HINT,
  },
  {
    id: 'env.command',
    family: 'env',
    languages: ['bash', 'python', 'javascript', 'typescript'],
    pattern: { commands: ['env', 'printenv', 'export -p'] },
    severity: 'warn',
    message: ENV_MSG,
    hint: ENV_HINT,
  },
  {
    id: 'env.proc-environ',
    family: 'env',
    languages: ['bash', 'python', 'javascript', 'typescript'],
    pattern: {
      calls: [
        'open',
        'io.open',
        'pathlib.Path',
        'fs.readFileSync',
        'fs.readFile',
        'fs.promises.readFile',
        'fs/promises.readFile',
      ],
      commands: ['cat', 'strings', 'xxd', 'od', 'tr', 'less', 'head', 'tail'],
      accesses: ['/proc/*/environ'],
      argument: { index: 0, test: 'proc-environ' },
    },
    severity: 'warn',
    message: ENV_MSG,
    hint: ENV_HINT,
  },
  {
    id: 'workspace.wipe',
    family: 'workspace',
    languages: ['python'],
    pattern: {
      calls: ['shutil.rmtree', 'os.removedirs', 'shutil.move', 'os.rename', 'os.replace'],
      argument: { index: 0, test: 'workspace-root' },
    },
    severity: 'block',
    message: WIPE_MSG,
    hint: WIPE_HINT,
  },
  {
    id: 'workspace.wipe-js',
    family: 'workspace',
    languages: ['javascript', 'typescript'],
    pattern: {
      calls: ['fs.rm*', 'fs.promises.rm*', 'fs/promises.rm*', 'fs.renameSync', 'fs.rename'],
      argument: { index: 0, test: 'workspace-root' },
    },
    severity: 'block',
    message: WIPE_MSG,
    hint: WIPE_HINT,
  },
  {
    id: 'workspace.wipe-shell',
    family: 'workspace',
    languages: ['bash', 'python', 'javascript', 'typescript'],
    pattern: {
      commands: ['rm', 'shred'],
      argument: { index: 0, test: 'workspace-root' },
    },
    severity: 'block',
    message: WIPE_MSG,
    hint: WIPE_HINT,
  },
  {
    id: 'loop.endless',
    family: 'loop',
    languages: ['python', 'javascript', 'typescript', 'bash'],
    pattern: { endlessLoop: true },
    severity: 'warn',
    message: LOOP_MSG,
    hint: LOOP_HINT,
  },
  {
    id: 'codemode.approval',
    family: 'codemode',
    languages: ['javascript', 'typescript', 'python'],
    pattern: { codemodeTool: 'approval' },
    severity: 'block',
    message:
      'This calls an upstream tool that needs approval and is not approved: the call would fail after the calls before it had run.',
    hint: 'Ask the user to approve this tool (or to add it to the approved list), or reach the goal with tools that need no approval.',
  },
  {
    id: 'codemode.destructive',
    family: 'codemode',
    languages: ['javascript', 'typescript', 'python'],
    pattern: { codemodeTool: 'destructive' },
    severity: 'warn',
    message: 'This calls an upstream tool its server marks as destructive (it may delete or overwrite data).',
    hint: 'Make sure the user asked for this change; read before you write, and keep the call as narrow as you can.',
  },
];
