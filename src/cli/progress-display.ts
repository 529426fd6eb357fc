import { STAGES, type PipelineProgress, type StageProgress } from '../domain/pipeline';

/**
 * Live per-stage progress bars for a terminal (redrawn in place), or one line per change when stdout is
 * not a terminal (CI logs, pipes): progress, not log spam, either way.
 */
export class ProgressDisplay {
  private drawnLines = 0;
  private lastLines: string[] = [];

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly width = 28,
  ) {}

  update(progress: PipelineProgress): void {
    const lines = STAGES.map((name) => this.line(name, progress.stages[name]));
    if (progress.awaitingApproval) lines.push('  waiting for approval: stowage approve <workflowId>');
    if (progress.costPerHour !== null) lines.push(`  packed cost: $${progress.costPerHour.toFixed(3)}/hour`);
    if (this.out.isTTY) {
      if (this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}A`);
      for (const line of lines) this.out.write(`\x1b[2K${line}\n`);
      this.drawnLines = lines.length;
    } else {
      lines
        .filter((line, i) => line !== this.lastLines[i])
        .forEach((line) => this.out.write(`${line.trim()}\n`));
    }
    this.lastLines = lines;
  }

  private line(name: string, stage: StageProgress): string {
    const fraction =
      stage.total > 0
        ? stage.done / stage.total
        : stage.status === 'done' || stage.status === 'skipped'
          ? 1
          : 0;
    const filled = Math.round(fraction * this.width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(this.width - filled)}`;
    const count = stage.total > 0 ? ` ${stage.done}/${stage.total}` : '';
    const detail = stage.detail ? `  ${stage.detail}` : '';
    return `  ${name.padEnd(7)} ${bar} ${stage.status.padEnd(7)}${count}${detail}`;
  }
}
