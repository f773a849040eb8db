/**
 * @module What a command may touch of its process: two output streams, the environment and whether stderr is a
 * terminal (progress bars only there). Passed in, so commands run the same in a child process and in a unit test.
 */

export interface Io {
  /** Writes a line (or lines) to stdout: results only, so `--json` output stays machine-readable. */
  out(text: string): void;
  /** Writes a line to stderr: footers, warnings, progress and errors. */
  err(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  /** Draw progress bars (stderr is a terminal). */
  progress: boolean;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
  env: process.env,
  progress: process.stderr.isTTY,
};
