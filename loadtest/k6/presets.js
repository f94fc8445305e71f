// The TEST_MODE presets, defined once: the k6 script (loadtest/k6/transcribe.js)
// and hark's built-in runner (`hark loadtest run`) both import this file.
// Plain JavaScript with no imports, so k6's goja and Node both load it.

/**
 * Each preset: its peak VUs and phase lengths (k6 duration strings), and a
 * description of the stages it produces. MAX_VUS, RAMP_UP, STEADY and
 * RAMP_DOWN override the preset's values.
 *
 * - smoke:  1 VU at once for 30 s (no ramps): does it work at all.
 * - load:   ramp to MAX_VUS (10) over RAMP_UP, hold STEADY, ramp down.
 * - stress: a staircase to MAX_VUS (40): 25 %, 50 %, 75 %, 100 %, each step
 *           ramped over RAMP_UP/4 and held STEADY/4, then ramp down.
 * - soak:   ramp to MAX_VUS (5), hold for an hour, ramp down: leaks, drift.
 */
export const PRESETS = {
  smoke: { maxVus: 1, rampUp: '0s', steady: '30s', rampDown: '0s', steps: 1 },
  load: { maxVus: 10, rampUp: '1m', steady: '5m', rampDown: '1m', steps: 1 },
  stress: { maxVus: 40, rampUp: '2m', steady: '8m', rampDown: '1m', steps: 4 },
  soak: { maxVus: 5, rampUp: '2m', steady: '1h', rampDown: '2m', steps: 1 },
};

export const TEST_MODES = Object.keys(PRESETS);

/** Seconds in a k6 duration string ("90s", "1m30s", "1h", "250ms", or a bare number of seconds). */
export function parseDuration(text) {
  const s = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let used = 0;
  let m;
  while ((m = re.exec(s)) !== null) {
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : n / 1000;
    used += m[0].length;
  }
  if (used !== s.length || s.length === 0) throw new Error(`not a duration: "${text}" (e.g. 30s, 5m, 1h30m)`);
  return total;
}

/** A duration in seconds as k6 writes it ("90s"). */
export function formatDuration(seconds) {
  return `${Math.round(seconds * 1000) / 1000}s`;
}

/**
 * The scenario of a TEST_MODE with the environment's overrides:
 * { mode, maxVus, startVUs, stages: [{ duration, target }] } in k6's
 * ramping-vus form (zero-length stages are left out; with no ramp-up the
 * run starts at its first target).
 */
export function scenarioFor(mode, env) {
  const e = env || {};
  const name = mode || 'smoke';
  const p = PRESETS[name];
  if (p === undefined) throw new Error(`TEST_MODE must be one of ${TEST_MODES.join(', ')}, not "${name}"`);
  const maxVus = e.MAX_VUS ? Number(e.MAX_VUS) : p.maxVus;
  if (!(Number.isInteger(maxVus) && maxVus >= 1)) throw new Error(`MAX_VUS must be a whole number >= 1, not "${e.MAX_VUS}"`);
  const rampUp = parseDuration(e.RAMP_UP || p.rampUp);
  const steady = parseDuration(e.STEADY || p.steady);
  const rampDown = parseDuration(e.RAMP_DOWN || p.rampDown);
  const raw = [];
  for (let i = 1; i <= p.steps; i++) {
    const target = Math.max(1, Math.round((maxVus * i) / p.steps));
    raw.push({ duration: rampUp / p.steps, target });
    raw.push({ duration: steady / p.steps, target });
  }
  raw.push({ duration: rampDown, target: 0 });
  const stages = raw.filter((s) => s.duration > 0).map((s) => ({ duration: formatDuration(s.duration), target: s.target }));
  const startVUs = rampUp === 0 ? raw[0].target : 0;
  return { mode: name, maxVus, startVUs, stages };
}

/** Total length of the stages, in seconds. */
export function totalSeconds(stages) {
  return stages.reduce((sum, s) => sum + parseDuration(s.duration), 0);
}

/** Target VUs at `t` seconds into the run (linear within a stage, as k6 ramps). */
export function targetAt(scenario, t) {
  let from = scenario.startVUs;
  let start = 0;
  for (const s of scenario.stages) {
    const d = parseDuration(s.duration);
    if (t < start + d) return Math.round(from + ((s.target - from) * (t - start)) / d);
    start += d;
    from = s.target;
  }
  return from;
}
