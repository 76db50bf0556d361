import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BenchContext } from './context';
import type { ExportMode, ExportResult } from './export-child';
import { rotatedRuns } from './measure';
import { row, type Row } from './report';

const run = promisify(execFile);

async function exportOnce(ctx: BenchContext, mode: ExportMode): Promise<ExportResult> {
  const file = join(ctx.workDir, `export-${mode}`);
  try {
    const { stdout } = await run(process.execPath, ['--expose-gc', join(__dirname, 'export-child.js'), mode, ctx.config.databaseUrl!, file], {
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout) as ExportResult;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(stderr || (error instanceof Error ? error.message : String(error)));
  } finally {
    rmSync(file, { force: true });
  }
}

async function exportRows(ctx: BenchContext, format: 'csv' | 'json', label: string, timeGoal: string): Promise<Row[]> {
  const runs = await rotatedRuns(
    ctx.options.runs,
    () => exportOnce(ctx, `ours-${format}`),
    () => exportOnce(ctx, 'copy-csv'),
    { run: () => exportOnce(ctx, `boilerplate-${format}`), budgetSeconds: ctx.options.boilerplateSeconds },
  );
  const mb = (r: ExportResult) => r.bytes / 2 ** 20;
  const side = (pick: (r: ExportResult) => number) => ({
    ours: runs.ours.map(pick),
    reference: runs.reference.map(pick),
    boilerplate: runs.boilerplate.map(pick),
    boilerplateNote: runs.boilerplateNote,
  });
  const boilerplate = runs.boilerplate[0];
  return [
    row({
      name: `${label} export, all users`,
      unit: 's',
      goal: timeGoal,
      ...side((r) => r.seconds),
      note: `${mb(runs.ours[0]).toFixed(0)} MB written (COPY CSV ${mb(runs.reference[0]).toFixed(0)} MB${boilerplate ? `, boilerplate ${mb(boilerplate).toFixed(0)} MB` : ''})`,
    }),
    row({
      name: `${label} export, peak RSS`,
      unit: 'MB',
      goal: 'flat as N grows',
      ...side((r) => r.peakRssMb),
      note: `growth during export: ours ${runs.ours[0].rssGrowthMb.toFixed(0)} MB, COPY ${runs.reference[0].rssGrowthMb.toFixed(0)} MB${
        boilerplate ? `, boilerplate ${boilerplate.rssGrowthMb.toFixed(0)} MB` : ''
      }; ours and the boilerplate include a booted Nest context`,
    }),
  ];
}

export async function csvExportRows(ctx: BenchContext): Promise<Row[]> {
  return exportRows(ctx, 'csv', 'CSV', '<= 1.5x');
}

export async function jsonExportRows(ctx: BenchContext): Promise<Row[]> {
  return exportRows(ctx, 'json', 'JSON', '<= 2x');
}
