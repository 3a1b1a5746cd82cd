/**
 * @module cli/progress
 * A progress bar on stderr for long commands (replay, benchmarks). Redraws at most 10 times a
 * second; prints nothing when stderr is not a terminal except a final line.
 */
export class Progress {
  private lastDraw = 0;
  private readonly started = Date.now();
  private readonly tty = process.stderr.isTTY;

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
  ) {}

  update(done: number): void {
    const now = Date.now();
    if (!this.tty || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    process.stderr.write(`\r${this.line(done)}`);
  }

  finish(done: number): void {
    process.stderr.write(`${this.tty ? '\r' : ''}${this.line(done)}\n`);
  }

  private line(done: number): string {
    const sec = (Date.now() - this.started) / 1000;
    const rate = sec > 0 ? Math.round(done / sec) : 0;
    if (this.total === undefined || this.total <= 0)
      return `${this.label} ${done.toLocaleString('en')} (${rate.toLocaleString('en')}/s)`;
    const frac = Math.min(1, done / this.total);
    const width = 30;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    return `${this.label} [${bar}] ${(frac * 100).toFixed(1)}% ${done.toLocaleString('en')}/${this.total.toLocaleString('en')} (${rate.toLocaleString('en')}/s)`;
  }
}
