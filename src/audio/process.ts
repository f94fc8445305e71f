import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** True when stdout went past the capture limit and was cut: do not parse it. */
  stdoutTruncated: boolean;
  /** The last few KB of stderr: enough for a reason, bounded for hostile input. */
  stderr: string;
}

const MAX_CAPTURE = 64 * 1024;

/**
 * Runs a program with an argument array (never a shell string), capturing bounded
 * output. The signal kills it (SIGKILL) so an aborted request leaves no ffmpeg behind.
 */
export function runProcess(command: string, args: readonly string[], signal?: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' });
    let stdout = '';
    let stdoutTruncated = false;
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const room = MAX_CAPTURE - stdout.length;
      if (d.length > room) stdoutTruncated = true;
      if (room > 0) stdout += d.slice(0, room);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-MAX_CAPTURE);
    });
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code, signal: sig, stdout, stdoutTruncated, stderr }));
  });
}
