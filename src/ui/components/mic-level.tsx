import { useEffect, useState } from 'preact/hooks';
import { clock } from '../format.js';
import { inputLevel } from '../recorder.js';

/*
 * What a recording shows while it runs: how loud the microphone hears you, and for how long it
 * has been recording. Each is its own component, so their ticks redraw them alone, not the captions.
 */

/** Ten readings a second: a meter that moves with the voice, without redrawing at the screen's rate. */
const LEVEL_MS = 100;

/**
 * The input level of `stream`, from an AnalyserNode (never connected to the speakers). A <meter>
 * is not a live region: a screen reader reads it when asked, it does not call out each change.
 */
export function LevelMeter({ stream }: { stream: MediaStream }) {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const timer = window.setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      setLevel(inputLevel(samples));
    }, LEVEL_MS);
    return () => {
      window.clearInterval(timer);
      void context.close();
    };
  }, [stream]);
  return (
    <label class="mic-level">
      <span class="muted small">Input level</span>
      <meter min={0} max={1} low={0.25} high={0.9} optimum={0.6} value={level} aria-valuetext={`${Math.round(level * 100)} %`} />
    </label>
  );
}

/** "Recording 0:07" from `since` (a performance.now() time), a second at a time; "Recorded 0:07" once `until` is set. */
export function ElapsedClock({ since, until }: { since: number; until: number | undefined }) {
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    if (until !== undefined) return;
    const timer = window.setInterval(() => setNow(performance.now()), 250);
    return () => window.clearInterval(timer);
  }, [until]);
  const seconds = ((until ?? now) - since) / 1000;
  return (
    <p class="mic-elapsed">
      {until === undefined && <span class="rec-dot" aria-hidden="true" />}
      {until === undefined ? 'Recording' : 'Recorded'}{' '}
      <span role="timer">{clock(seconds)}</span>
    </p>
  );
}
