import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { summarize, type Sides, type Summary } from './measure';

export interface Row {
  name: string;
  unit: string;
  ours: Summary | null;
  reference: Summary | null;
  // ours / reference, on the medians.
  ratio: number | null;
  goal: string;
  // What the NestJS + TypeORM boilerplate's code does on the same data, measured in the same run.
  boilerplate: Summary | null;
  // How many times better ours is than the boilerplate, on the medians: boilerplate / ours for
  // times and sizes, ours / boilerplate for throughputs.
  vsBoilerplate: number | null;
  note?: string;
  // Why the boilerplate side has fewer runs than the others, or none.
  boilerplateNote?: string;
}

export interface RowSpec extends Partial<Sides<number>> {
  name: string;
  unit: string;
  goal: string;
  ours: number[];
  reference: number[];
  note?: string;
}

// Throughputs (req/s, rows/s, logins/s) are better when higher; times and sizes when lower.
export function higherIsBetter(unit: string): boolean {
  return unit.endsWith('/s');
}

function quotient(numerator: Summary | null, denominator: Summary | null): number | null {
  return numerator && denominator && denominator.median !== 0 ? numerator.median / denominator.median : null;
}

export function row(spec: RowSpec): Row {
  const ours = summarize(spec.ours);
  const reference = spec.reference.length ? summarize(spec.reference) : null;
  const boilerplate = spec.boilerplate?.length ? summarize(spec.boilerplate) : null;
  return {
    name: spec.name,
    unit: spec.unit,
    ours,
    reference,
    ratio: quotient(ours, reference),
    goal: spec.goal,
    boilerplate,
    vsBoilerplate: higherIsBetter(spec.unit) ? quotient(ours, boilerplate) : quotient(boilerplate, ours),
    note: spec.note,
    boilerplateNote: spec.boilerplateNote,
  };
}

// A row that could not be measured in this run, with the reason in place of figures.
export function skipped(name: string, unit: string, goal: string, note: string): Row {
  return { name, unit, ours: null, reference: null, ratio: null, goal, boilerplate: null, vsBoilerplate: null, note };
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

export function figure(value: number): string {
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

// A ratio: two decimals, or as a figure from 10 up (1,215, not 1215.41).
export function times(value: number | null): string {
  if (value === null) return '-';
  return value < 10 ? value.toFixed(2) : figure(value);
}

export function formatTable(rows: Row[]): string {
  const header = ['hot path', 'unit', 'ours: median [min-max]', 'reference: median [min-max]', 'ratio', 'goal', 'boilerplate: median [min-max]', 'vs boilerplate', 'note'];
  const body = rows.map((r) => {
    const notes = [r.note, r.boilerplateNote && `boilerplate: ${r.boilerplateNote}`].filter(Boolean).join('; ');
    return [r.name, r.unit, cell(r.ours), cell(r.reference), times(r.ratio), r.goal, cell(r.boilerplate), times(r.vsBoilerplate), notes];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export interface RunInfo {
  users: number;
  smoke: boolean;
  runs: number;
  // The groups measured (all of them unless --only was given).
  groups: string[];
  database: string;
  postgres: string;
  startedAt: string;
  seconds: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  node: string;
}

export function machine(): Machine {
  const cpu = cpus();
  return { cpu: cpu[0]?.model.trim() ?? 'unknown CPU', cores: cpu.length, ramGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
}

export function describeMachine(m: Machine): string {
  return `${m.cores} x ${m.cpu}, ${m.ramGiB} GiB RAM, Node ${m.node}`;
}

// The JSON of one run, as the results files hold it.
export interface Results extends RunInfo {
  machine: Machine;
  rows: Row[];
}

// Writes the run as JSON next to the table it printed; returns the file's path. A full run (not
// smoke, every group) also replaces published/users-<N>.json, which the README's tables are
// generated from (npm run bench:readme) and which is committed.
export function writeResults(dir: string, info: RunInfo, rows: Row[], full: boolean): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${info.startedAt.replace(/[:.]/g, '-')}${info.smoke ? '-smoke' : ''}.json`);
  const results: Results = { ...info, machine: machine(), rows };
  const content = JSON.stringify(results, null, 2) + '\n';
  writeFileSync(file, content);
  writeFileSync(join(dir, info.smoke ? 'latest-smoke.json' : 'latest.json'), content);
  if (full) {
    mkdirSync(join(dir, 'published'), { recursive: true });
    writeFileSync(publishedFile(dir, info.users), content);
  }
  return file;
}

export function publishedFile(dir: string, users: number): string {
  return join(dir, 'published', `users-${users}.json`);
}
