/**
 * Display helpers: sizes, durations, times. Pure functions, no DOM.
 *
 * One rounding rule for durations: every figure is cut down (floored) to the unit it shows, as a
 * clock does, so 163.6 s reads "2:43" in one place and "2 min 43 s" in another, never "2 min 44 s".
 * Times of day are 24-hour everywhere (the log, the facts, History), whatever the browser's locale.
 */

/** A hair over float error, so 2.3 s is 23 tenths and not 22.999… */
const EPSILON = 1e-6;

/** "1 word", "2 words": the noun in the singular for exactly one. */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** Decimal units, as hark's settings count them (MAX_FILE_SIZE_MB is 10^6 bytes). */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 999.5 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** 75.3 -> "1:15"; 3723 -> "1:02:03". */
export function clock(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.floor(seconds + EPSILON));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A segment timestamp with tenths: "0:07.4". */
export function stamp(seconds: number): string {
  const tenths = Math.max(0, Math.floor(seconds * 10 + EPSILON));
  return `${clock(Math.floor(tenths / 10))}.${tenths % 10}`;
}

/** A span of time in words: "4.0 s", "3 min 20 s", "2 h 5 min" (floored, as {@link clock}). */
export function span(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const tenths = Math.max(0, Math.floor(seconds * 10 + EPSILON));
  if (tenths < 100) return `${(tenths / 10).toFixed(1)}\u00a0s`;
  const s = Math.floor(tenths / 10);
  if (s < 60) return `${s}\u00a0s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}\u00a0min ${s % 60}\u00a0s`;
  return `${Math.floor(m / 60)}\u00a0h ${m % 60}\u00a0min`;
}

/** `h23`, not `hour12: false`, which some engines render as "24:05" after midnight. */
const TIME = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' } as const;
const timeFormat = new Intl.DateTimeFormat(undefined, TIME);
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', ...TIME });
const logTimeFormat = new Intl.DateTimeFormat(undefined, { ...TIME, fractionalSecondDigits: 3 });

/** A log line's time of day, to the millisecond, on the same 24-hour clock as {@link when}. */
export function logTime(ms: number): string {
  return logTimeFormat.format(ms);
}

/** Today's times as a time of day, older ones with their date. */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '–';
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? timeFormat.format(d) : dateTimeFormat.format(d);
}

/** Seconds between two ISO times (or until now). */
export function between(from: string | null, to: string | null): number | null {
  if (from === null) return null;
  return ((to === null ? Date.now() : Date.parse(to)) - Date.parse(from)) / 1000;
}

/**
 * 0.716 -> "71 %": floored like durations (a job at 99.6 % is not "100 %"), with a no-break space so a
 * narrow screen never leaves the "%" alone on a line.
 */
export function percent(p: number): string {
  return `${Math.max(0, Math.floor(p * 100 + EPSILON))}\u00a0%`;
}

/**
 * A time-left estimate in words, as coarse as an estimate deserves: "a few seconds", "about 45 s",
 * "about 3 min", "about 1 h 20 min". Rounded to the nearest step rather than floored, unlike the
 * durations above, since it is not a measured length.
 */
export function roughly(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 10) return 'a few seconds';
  if (seconds < 57.5) return `about ${Math.round(seconds / 5) * 5}\u00a0s`;
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 60) return `about ${minutes}\u00a0min`;
  const h = Math.floor(minutes / 60);
  return `about ${h}\u00a0h${minutes % 60 === 0 ? '' : ` ${minutes % 60}\u00a0min`}`;
}

/** "22 of 47 s decoded", in the units of {@link clock} past ten minutes ("12:03 of 1:02:00 decoded"); floored, as both are. */
export function decodedOf(decoded: number, total: number): string {
  if (total < 600) return `${Math.floor(Math.max(0, decoded) + EPSILON)} of ${Math.floor(total + EPSILON)}\u00a0s decoded`;
  return `${clock(decoded)} of ${clock(total)} decoded`;
}
