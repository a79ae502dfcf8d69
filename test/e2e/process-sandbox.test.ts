// The executor contract against the real bubblewrap + cgroups sandbox.
import { executorContract } from '../../src/sandbox/executor-contract.js';
import { ProcessExecutor } from '../../src/sandbox/process/process-executor.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';

executorContract({
  name: 'process (bubblewrap + cgroups)',
  make: async () => new ProcessExecutor(await createProcessSandbox()),
});
