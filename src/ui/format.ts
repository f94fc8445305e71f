/** Display helpers: sizes, durations, times. Pure functions, no DOM. */

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
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A segment timestamp with tenths: "0:07.4". */
export function stamp(seconds: number): string {
  const tenths = Math.floor((seconds % 1) * 10);
  return `${clock(seconds)}.${tenths}`;
}

/** A span of time in words: "4 s", "3 min 20 s", "2 h 5 min". */
export function span(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

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

export function percent(p: number): string {
  return `${Math.round(p * 100)} %`;
}
