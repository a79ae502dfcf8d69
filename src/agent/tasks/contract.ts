/**
 * A task of the agent suite: input files, the task text, a checker over the
 * final answer and the workspace, and a known-good solution (the code a
 * correct model would run, and its answer) for the scripted runs. Types only.
 *
 * Invariant: a checker computes what it expects from the task's own inputs
 * (never from the solution), and returns a reason for every rejection.
 */

/** What a checker may look at after a run: the answer and the session workspace. */
export interface TaskWorkspace {
  /** The file's text, or undefined when it does not exist. */
  read(path: string): Promise<string | undefined>;
}

export interface AgentTask {
  id: string;
  /** What the model is asked to do (files named relative to the workspace). */
  task: string;
  files: { path: string; content: string }[];
  /** undefined when the run did the task; else why not, in a sentence. */
  check(answer: string, workspace: TaskWorkspace): Promise<string | undefined>;
  /** A correct solution: python run in order, then this final answer. */
  solution: { code: string[]; answer: string };
  /** A plausible wrong answer (e.g. off by one) the checker must reject; default "I could not do it". */
  wrongAnswer?: string;
}
