import type { WindowFigures } from '../../src/domain/stability';

/**
 * Cuts the live sample stream of one k6 run (its `--out json` lines) into consecutive windows of equal
 * length, so a load step can be judged window by window while k6 keeps offering the same rate: the
 * windows are continuous (no restart, no drained queue between them), which is what a step's steady state
 * is. A request counts in the window in which its answer arrived (k6 stamps samples at the response's
 * end), like k6's own achieved rate. Window 0 starts when the first request was sent.
 *
 * Only two metrics are read: http_req_duration (one point per request, tagged expected_response) and
 * dropped_iterations; every other line is skipped by its prefix without being parsed.
 */
const DURATION = '{"metric":"http_req_duration","type":"Point"';
const DROPPED = '{"metric":"dropped_iterations","type":"Point"';

interface Sample {
  kind: 'answer' | 'dropped';
  /** When it was recorded, ms since the epoch. */
  at: number;
  durationMs: number;
  ok: boolean;
}

interface Bucket {
  okMs: number[];
  requests: number;
  failures: number;
  dropped: number;
}

export class WindowCollector {
  private startMs: number | undefined;
  private rest = '';
  private readonly buckets = new Map<number, Bucket>();

  /** `firstIndex`: windows an earlier attempt measured, so the windows here continue its numbering. */
  constructor(
    readonly windowSeconds: number,
    private readonly firstIndex = 0,
  ) {}

  /** When window 0 started (ms since the epoch), once any sample has arrived. */
  get start(): number | undefined {
    return this.startMs;
  }

  /** The end of the `k`-th window measured here (0-based, ms since the epoch), once started. */
  endOf(k: number): number | undefined {
    return this.startMs === undefined ? undefined : this.startMs + (k + 1) * this.windowSeconds * 1000;
  }

  /** Takes the next piece of k6's output (any split: a line cut in two is completed by the next piece). */
  feed(chunk: string): void {
    const lines = (this.rest + chunk).split('\n');
    this.rest = lines.pop() ?? '';
    const samples: Sample[] = [];
    for (const line of lines) {
      const sample = parse(line);
      if (sample) samples.push(sample);
    }
    if (samples.length === 0) return;
    // The first batch holds the first requests: the earliest send time among them opens window 0.
    this.startMs ??= Math.min(...samples.map((s) => s.at - s.durationMs));
    for (const s of samples) {
      const k = Math.max(0, Math.floor((s.at - this.startMs) / (this.windowSeconds * 1000)));
      let b = this.buckets.get(k);
      if (!b) this.buckets.set(k, (b = { okMs: [], requests: 0, failures: 0, dropped: 0 }));
      if (s.kind === 'dropped') b.dropped += 1;
      else {
        b.requests += 1;
        if (s.ok) b.okMs.push(s.durationMs);
        else b.failures += 1;
      }
    }
  }

  /** The figures of the `k`-th window measured here (empty when nothing arrived in it). */
  window(k: number): WindowFigures {
    const b = this.buckets.get(k) ?? { okMs: [], requests: 0, failures: 0, dropped: 0 };
    const sorted = [...b.okMs].sort((x, y) => x - y);
    const q = (p: number) => (sorted.length === 0 ? null : percentile(sorted, p));
    return {
      index: this.firstIndex + k,
      seconds: this.windowSeconds,
      achievedRate: (b.requests - b.failures) / this.windowSeconds,
      requests: b.requests,
      failures: b.failures,
      droppedIterations: b.dropped,
      minMs: q(0),
      p50Ms: q(0.5),
      p90Ms: q(0.9),
      p95Ms: q(0.95),
      p99Ms: q(0.99),
      maxMs: q(1),
    };
  }
}

function parse(line: string): Sample | undefined {
  const answer = line.startsWith(DURATION);
  if (!answer && !line.startsWith(DROPPED)) return undefined;
  const point = JSON.parse(line) as {
    data: { time: string; value: number; tags?: Record<string, string> };
  };
  const at = Date.parse(point.data.time);
  if (!Number.isFinite(at)) return undefined;
  return answer
    ? {
        kind: 'answer',
        at,
        durationMs: point.data.value,
        ok: point.data.tags?.expected_response === 'true',
      }
    : { kind: 'dropped', at, durationMs: 0, ok: false };
}

/** Linear interpolation between closest ranks, as k6 computes its trend percentiles. */
function percentile(sorted: number[], p: number): number {
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
