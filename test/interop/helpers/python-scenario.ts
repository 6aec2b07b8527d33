/**
 * A scenario script under /usr/bin/python3 (Debian's python3-caldav) that asserts in Python and
 * prints one JSON report on its last line: {"ok": bool, "steps": [{"step": name}...], "error", "trace"}.
 * Returns the names of the steps that passed, after failing the test when the script failed.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { run } from './run.js';

interface ScenarioReport {
  ok: boolean;
  steps: { step: string }[];
  error?: string;
  trace?: string;
}

export async function runPythonScenario(script: string, args: readonly string[]): Promise<string[]> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const res = await run('/usr/bin/python3', [path, ...args], { timeoutMs: 180_000 });
  const last = res.stdout.trim().split('\n').at(-1) ?? '';
  let report: ScenarioReport;
  try {
    report = JSON.parse(last) as ScenarioReport;
  } catch {
    assert.fail(`no JSON report from ${script} (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
  }
  const names = report.steps.map((s) => s.step);
  console.log(`${script} steps passed: ${names.join(', ')}${report.ok ? '' : ` | FAILED: ${report.error}`}`);
  assert.equal(report.ok, true, `${report.error ?? ''}\n${report.trace ?? ''}`);
  return names;
}
