import type { SpeakerTurn } from './types.js';

/*
 * NIST RTTM, the file format of speaker references and of every diarization
 * scorer (md-eval, dscore, pyannote.metrics): one line per turn,
 *   SPEAKER <file> <channel> <start> <duration> <NA> <NA> <speaker> <NA> <NA>
 * with whitespace-separated fields, times in seconds.
 */

/** Fields are whitespace-separated, so a name with spaces ("Ann Lee") would shift every later field. */
function field(value: string): string {
  return value.trim().replace(/\s+/g, '_');
}

/**
 * RTTM lines for one file's turns, sorted by start, times to the millisecond,
 * each line newline-terminated. Whitespace inside the file id or a speaker name
 * becomes `_`. A turn that rounds to no duration is left out: it holds no speech
 * and md-eval rejects it.
 */
export function formatRttm(fileId: string, turns: readonly SpeakerTurn[]): string {
  const file = field(fileId);
  const rows = turns
    .map((t) => ({ start: Math.round(t.start * 1000), end: Math.round(t.end * 1000), speaker: field(t.speaker) }))
    .filter((t) => t.end > t.start)
    .sort((a, b) => a.start - b.start || a.end - b.end);
  // Duration from rounded ends, so start + duration gives back the rounded end exactly.
  return rows.map((t) => `SPEAKER ${file} 1 ${(t.start / 1000).toFixed(3)} ${((t.end - t.start) / 1000).toFixed(3)} <NA> <NA> ${t.speaker} <NA> <NA>\n`).join('');
}

/**
 * Speaker turns by file id, in the order the file lists them. Blank lines,
 * `;;` comments and rows of other types (SPKR-INFO, LEXEME, ...) are skipped;
 * a SPEAKER row without a file, a speaker, a finite start or a non-negative
 * duration throws, naming its line, since scoring a half-read reference would
 * give a wrong figure without a word.
 */
export function parseRttm(text: string): Map<string, SpeakerTurn[]> {
  const files = new Map<string, SpeakerTurn[]>();
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith(';;')) return;
    const [kind, file, , start, duration, , , speaker] = trimmed.split(/\s+/);
    if (kind !== 'SPEAKER') return;
    const s = Number(start);
    const d = Number(duration);
    if (file === undefined || speaker === undefined || start === undefined || duration === undefined || !Number.isFinite(s) || !Number.isFinite(d) || d < 0) {
      throw new Error(`RTTM line ${i + 1} is not SPEAKER <file> <channel> <start> <duration> <NA> <NA> <speaker> ...: ${JSON.stringify(trimmed)}`);
    }
    const turns = files.get(file) ?? [];
    turns.push({ start: s, end: s + d, speaker });
    files.set(file, turns);
  });
  return files;
}
