/** A progress line on stderr (units done, rate, ETA), redrawn in place on a terminal. */
export function progress(label: string, quiet: boolean, unit = 'images'): (done: number, total: number) => void {
  if (quiet) return () => undefined;
  const t0 = performance.now();
  // under cli/lee.ts's filter stderr is a pipe to a terminal
  const tty = process.stderr.isTTY || process.env.LEE_STDERR_TTY === '1';
  return (done, total) => {
    const s = (performance.now() - t0) / 1e3;
    const rate = done > 0 ? done / s : 0;
    const eta = rate > 0 ? `, ETA ${Math.ceil((total - done) / rate)}s` : '';
    const line = `${label}: ${done}/${total} ${unit}${rate > 0 ? `, ${rate.toFixed(2)} ${unit}/s` : ''}${done < total ? eta : `, ${s.toFixed(1)}s`}`;
    if (tty) process.stderr.write(`\r${line}\x1b[K${done === total ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  };
}
