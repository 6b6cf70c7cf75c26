/** A one-line terminal progress bar; on a non-TTY it prints a line every 10 %. */
export function progressBar(label: string, out: NodeJS.WriteStream = process.stderr): (done: number, total: number) => void {
  let lastDecile = -1;
  return (done, total) => {
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const pct = Math.floor(frac * 100);
    if (out.isTTY) {
      const width = 30;
      const filled = Math.round(frac * width);
      out.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}% ${fmt(done)}/${fmt(total)}`);
      if (frac === 1) out.write('\n');
    } else if (Math.floor(pct / 10) > lastDecile) {
      lastDecile = Math.floor(pct / 10);
      out.write(`${label} ${pct}% ${fmt(done)}/${fmt(total)}\n`);
    }
  };
}

function fmt(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${n} B`;
}
