import { InvalidArgumentError } from 'commander';
import { isProcessor, PROCESSORS, type Processor } from '../domain/task-queues';

export function parseProcessorsFlag(value: string): Processor[] | 'auto' {
  if (value === 'auto') return 'auto';
  const names = value.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !isProcessor(n));
  if (names.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(
      `expected 'auto' or a comma list of ${PROCESSORS.join(', ')}; got ${JSON.stringify(value)}`,
    );
  }
  return [...new Set(names)] as Processor[];
}

export function parseProcessorListFlag(value: string): Processor[] {
  const parsed = parseProcessorsFlag(value);
  if (parsed === 'auto') throw new InvalidArgumentError("'auto' is not a processor list here");
  return parsed;
}
