import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { summarize, type Summary } from './measure';

export interface Row {
  name: string;
  unit: string;
  ours: Summary | null;
  reference: Summary | null;
  // ours / reference, on the medians.
  ratio: number | null;
  goal: string;
  note?: string;
}

export interface RowSpec {
  name: string;
  unit: string;
  goal: string;
  ours: number[];
  reference: number[];
  note?: string;
}

export function row(spec: RowSpec): Row {
  const ours = summarize(spec.ours);
  const reference = spec.reference.length ? summarize(spec.reference) : null;
  return {
    name: spec.name,
    unit: spec.unit,
    ours,
    reference,
    ratio: reference && reference.median !== 0 ? ours.median / reference.median : null,
    goal: spec.goal,
    note: spec.note,
  };
}

// A row that could not be measured in this run, with the reason in place of figures.
export function skipped(name: string, unit: string, goal: string, note: string): Row {
  return { name, unit, ours: null, reference: null, ratio: null, goal, note };
}

// Runs one group of rows; a failure turns the group into one skipped row instead of ending the run.
export async function group(name: string, measure: () => Promise<Row[]>, log: (line: string) => void): Promise<Row[]> {
  log(`measuring ${name}`);
  try {
    return await measure();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    log(`${name} failed: ${reason}`);
    return [skipped(name, '', '', `n/a: ${reason.split('\n')[0]}`)];
  }
}

function figure(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function cell(summary: Summary | null): string {
  if (!summary) return '-';
  return `${figure(summary.median)} [${figure(summary.min)}-${figure(summary.max)}]`;
}

export function formatTable(rows: Row[]): string {
  const header = ['hot path', 'unit', 'ours: median [min-max]', 'reference: median [min-max]', 'ratio', 'goal', 'note'];
  const body = rows.map((r) => [r.name, r.unit, cell(r.ours), cell(r.reference), r.ratio === null ? '-' : r.ratio.toFixed(2), r.goal, r.note ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export interface RunInfo {
  users: number;
  smoke: boolean;
  runs: number;
  database: string;
  startedAt: string;
  seconds: number;
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`;
}

// Writes the run as JSON next to the table it printed; returns the file's path.
export function writeResults(dir: string, info: RunInfo, rows: Row[]): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${info.startedAt.replace(/[:.]/g, '-')}${info.smoke ? '-smoke' : ''}.json`);
  const content = JSON.stringify({ ...info, machine: machine(), rows }, null, 2) + '\n';
  writeFileSync(file, content);
  writeFileSync(join(dir, info.smoke ? 'latest-smoke.json' : 'latest.json'), content);
  return file;
}
