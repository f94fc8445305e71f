/** Every cue's start and end, in seconds, from an SRT (`,` before ms) or WebVTT (`.`) body. */
export function parseTimes(body: string, sep: ',' | '.'): number[] {
  const re = new RegExp(`(\\d{2}):(\\d{2}):(\\d{2})\\${sep}(\\d{3}) --> (\\d{2}):(\\d{2}):(\\d{2})\\${sep}(\\d{3})`, 'g');
  const times: number[] = [];
  for (const m of body.matchAll(re)) {
    const n = m.slice(1).map(Number);
    times.push(n[0]! * 3600 + n[1]! * 60 + n[2]! + n[3]! / 1000, n[4]! * 3600 + n[5]! * 60 + n[6]! + n[7]! / 1000);
  }
  return times;
}
