/** Progress lines on stderr, so stdout carries only the results table. */
const started = Date.now();

export type Progress = (message: string) => void;

export function stderrProgress(): Progress {
  return (message) => {
    const elapsed = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
    process.stderr.write(`[bench ${elapsed}s] ${message}\n`);
  };
}

export const silentProgress: Progress = () => {};
