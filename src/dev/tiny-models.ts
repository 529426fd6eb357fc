import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ProjectPaths } from '../config/paths';
import { pythonPath } from './tools';

/**
 * Small BERT question-answering models in Hugging Face layout, written by the tracer's own factory
 * (no download): what the demo and the tests trace. Returns the model folders.
 */
export async function makeTinyModels(
  paths: ProjectPaths,
  options: {
    out: string;
    count: number;
    prefix?: string;
    size?: 'tiny' | 'bert-base';
    /** Cycle through this many small BERT shapes (tiny only): one architecture each. */
    shapes?: number;
    /** Keep folders written already (model i depends on i only). */
    keepExisting?: boolean;
  },
): Promise<string[]> {
  const args = [
    '-m',
    'stowage_tracer',
    'make-tiny-models',
    '--out',
    options.out,
    '--count',
    String(options.count),
  ];
  if (options.prefix) args.push('--prefix', options.prefix);
  if (options.size) args.push('--size', options.size);
  if (options.shapes) args.push('--shapes', String(options.shapes));
  if (options.keepExisting) args.push('--keep-existing');
  const { stdout } = await promisify(execFile)(pythonPath(paths), args, {
    cwd: paths.pythonTracer,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as string[];
}
