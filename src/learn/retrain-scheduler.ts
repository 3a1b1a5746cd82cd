/**
 * @module learn/retrain-scheduler
 * Retraining on a cron schedule, one job per model kind (`PRESCIENT_RETRAIN_CRON_<KIND>`), with
 * croner: 5-field patterns, or 6 with seconds first. Overlap protection is croner's `protect`
 * (a run still going when the next is due makes that one skip), and each run first waits a
 * random delay up to the jitter, so replicas started together do not all retrain at the same
 * second. {@link stop} cancels a waiting run and resolves when a running one has finished.
 */
import { Cron } from 'croner';

export interface RetrainJob {
  readonly kind: string;
  /** Cron pattern; empty = no job. */
  readonly pattern: string;
  /** Largest random delay before a run, seconds. */
  readonly jitterSec: number;
  readonly run: () => Promise<void>;
}

export interface RetrainSchedulerOptions {
  readonly onError: (kind: string, err: unknown) => void;
  /** Told when a run was skipped because the previous one of the kind is still running. */
  readonly onSkip?: (kind: string) => void;
  /** Uniform in [0, 1); default Math.random. */
  readonly random?: () => number;
}

export class RetrainScheduler {
  private readonly jobs: Cron[] = [];
  private readonly kinds: string[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly waits = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private stopped = false;
  private readonly random: () => number;

  constructor(private readonly o: RetrainSchedulerOptions) {
    this.random = o.random ?? Math.random;
  }

  /**
   * Schedules `job` (nothing for an empty pattern).
   * @throws Error for a pattern croner cannot parse (settings check it at start).
   */
  add(job: RetrainJob): void {
    if (job.pattern.trim() === '' || this.stopped) return;
    const cron = new Cron(
      job.pattern,
      {
        protect: () => this.o.onSkip?.(job.kind),
        catch: false,
        unref: true,
      },
      () => this.track(this.runOnce(job)),
    );
    this.jobs.push(cron);
    this.kinds.push(job.kind);
  }

  /** When each job runs next (tests, /v1/stats). */
  nextRuns(): { kind: string; nextRun: Date | null }[] {
    return this.jobs.map((j, i) => ({ kind: this.kinds[i] ?? '', nextRun: j.nextRun() }));
  }

  private async runOnce(job: RetrainJob): Promise<void> {
    const delayMs = Math.floor(this.random() * Math.max(0, job.jitterSec) * 1000);
    if (delayMs > 0 && !(await this.sleep(delayMs))) return;
    if (this.stopped) return;
    try {
      await job.run();
    } catch (err) {
      this.o.onError(job.kind, err);
    }
  }

  /** Resolves true after `ms`, or false at once when the scheduler stops. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const w = {
        timer: setTimeout(() => {
          this.waits.delete(w);
          resolve(true);
        }, ms),
        resolve: () => resolve(false),
      };
      this.waits.add(w);
    });
  }

  private track(p: Promise<void>): Promise<void> {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return p;
  }

  /** Stops every job; a run waiting for its jitter is dropped, a running one awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const j of this.jobs) j.stop();
    this.jobs.length = 0;
    this.kinds.length = 0;
    for (const w of this.waits) {
      clearTimeout(w.timer);
      w.resolve();
    }
    this.waits.clear();
    await Promise.allSettled([...this.running]);
  }
}
