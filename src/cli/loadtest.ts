import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';

/** The runner, its reports and the demo, loaded when one of these commands runs rather than at every CLI start. */
const load = async () => {
  const [demo, presets, report, runner, settings] = await Promise.all([
    import('../loadtest/demo.js'),
    import('../loadtest/presets.js'),
    import('../loadtest/report.js'),
    import('../loadtest/runner.js'),
    import('../loadtest/settings.js'),
  ]);
  return { ...demo, ...presets, ...report, ...runner, ...settings };
};

/*
 * `hark loadtest run|compare` and `hark demo leak`: the k6 kit's scenarios
 * (loadtest/k6/, configured by .env.k6) run by hark's own Node runner.
 */

interface RunOpts {
  envFile?: string;
  baseUrl?: string;
  endpoint?: string;
  mode?: string;
  maxVus?: string;
  rampUp?: string;
  steady?: string;
  rampDown?: string;
  audioList?: string;
  thinkTime?: string;
  rate?: string;
  gracefulStop: string;
  stopAboveRssMb?: string;
  out?: string;
  png: boolean;
}

const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

export function registerLoadtest(program: Command): void {
  const loadtest = program.command('loadtest').description('load tests: the k6 kit\'s scenarios (loadtest/k6, .env.k6) run by hark itself');

  loadtest
    .command('run')
    .description('run a load test; settings from .env.k6 (see .env.k6.example), the environment, then these options')
    .option('--env-file <file>', 'settings file (default .env.k6 when present)')
    .option('--base-url <url>', 'BASE_URL')
    .addOption(new Option('--endpoint <endpoint>', 'ENDPOINT').choices(['/transcriptions', '/transcriptions/sync', '/transcriptions/process-isolated', '/v1/audio/transcriptions', 'jobs']))
    .addOption(new Option('--mode <mode>', 'TEST_MODE').choices(['smoke', 'load', 'stress', 'soak']))
    .option('--max-vus <n>', 'MAX_VUS')
    .option('--ramp-up <duration>', 'RAMP_UP')
    .option('--steady <duration>', 'STEADY')
    .option('--ramp-down <duration>', 'RAMP_DOWN')
    .option('--audio-list <file>', 'AUDIO_LIST')
    .option('--think-time <seconds>', 'THINK_TIME')
    .option('--rate <n/s>', 'open model: arrivals per second (e.g. 5/s), at most MAX_VUS in flight; the stages give only the length')
    .option('--graceful-stop <duration>', 'after the stages, how long in-flight requests may finish before they are aborted', '30s')
    .option('--stop-above-rss-mb <mb>', 'stop early once the server\'s RSS passes this')
    .option('-o, --out <dir>', 'report folder (default loadtest/results/<time>-<mode>)')
    .option('--no-png', 'skip charts.png (no Chromium needed)')
    .action(async (opts: RunOpts) => {
      const { loadPresets, readK6Env, settingsFrom, parseRate, runLoad, writeReport } = await load();
      const presets = await loadPresets();
      const env = readK6Env(opts.envFile);
      const set = (k: string, v: string | undefined) => v !== undefined && (env[k] = v);
      set('BASE_URL', opts.baseUrl);
      set('ENDPOINT', opts.endpoint);
      set('TEST_MODE', opts.mode);
      set('MAX_VUS', opts.maxVus);
      set('RAMP_UP', opts.rampUp);
      set('STEADY', opts.steady);
      set('RAMP_DOWN', opts.rampDown);
      set('AUDIO_LIST', opts.audioList);
      set('THINK_TIME', opts.thinkTime);
      const settings = settingsFrom(env, presets, {
        gracefulStopSeconds: presets.parseDuration(opts.gracefulStop),
        ...(opts.rate !== undefined ? { rate: parseRate(opts.rate) } : {}),
        ...(opts.stopAboveRssMb !== undefined ? { stopAboveServerRssBytes: Number(opts.stopAboveRssMb) * 1e6 } : {}),
      });
      const out = resolve(opts.out ?? join('loadtest', 'results', `${stamp()}-${settings.scenario.mode}`));
      process.stderr.write(
        `hark loadtest: ${settings.endpoint} on ${settings.baseUrl}, ${settings.rate === undefined ? `${settings.scenario.mode}, up to ${settings.scenario.maxVus} VUs` : `${settings.rate}/s`}, ${settings.durationSeconds} s\n`,
      );
      const run = await runLoad(settings, presets, {
        onSample: (s, done) => {
          if (Math.round(s.t / 1000) % 10 === 0) process.stderr.write(`  ${Math.round(s.t / 1000)} s: ${s.target_vus} VUs, ${s.in_flight} in flight, ${done} done\n`);
        },
      });
      const report = await writeReport(out, run, { png: opts.png });
      const s = report.summary;
      process.stdout.write(
        `${s.requests} requests: ${s.ok} completed, ${s.rejected} rejected (503), ${s.http_errors} HTTP errors, ${s.timeouts} timed out, ${s.errors} network errors\n` +
          `throughput ${s.throughput_rps} /s, p50 ${s.p50_ms} ms, p95 ${s.p95_ms} ms, p99 ${s.p99_ms} ms; server RSS peak ${s.peak_server_rss_mb} MB, final ${s.final_server_rss_mb} MB\n` +
          `${s.stop_reason}\nreport: ${join(out, 'report.html')}\n`,
      );
    });

  loadtest
    .command('compare')
    .description('two report folders side by side, with the ratios B/A')
    .argument('<a>', 'report folder (or its report.json)')
    .argument('<b>', 'report folder (or its report.json)')
    .action(async (a: string, b: string) => {
      const { readReport, compareTable } = await load();
      const [ra, rb] = await Promise.all([readReport(a), readReport(b)]);
      process.stdout.write(`A = ${a} (${ra.settings.endpoint})\nB = ${b} (${rb.settings.endpoint})\n\n${compareTable(ra.summary, rb.summary)}\n`);
    });

  program
    .command('demo')
    .description('demonstrations')
    .command('leak')
    .description('a leaking engine, in-process vs process-isolated: starts hark twice, runs the same load, writes two reports and a comparison')
    .option('--seconds <n>', 'length of each phase', '60')
    .option('--vus <n>', 'virtual users (and decoders / workers)', '2')
    .option('--leak-mb <mb>', 'SIMULATE_NATIVE_LEAK_MB', '50')
    .option('--cap-gib <gib>', 'stop the in-process phase once the server passes this RSS', '4')
    .option('--reserve-gib <gib>', "stop once the machine's MemAvailable falls under this", '2')
    .option('--worker-max-rss-mb <mb>', 'WORKER_MAX_RSS_MB of the isolated phase', '600')
    .option('--clip <file>', 'the audio sent (default: the shortest dev clip of the shared corpus)')
    .option('-o, --out <dir>', 'output folder', join('loadtest', 'results', 'demo-leak'))
    .option('--png <file>', 'the picture (default <out>/demo-leak.png)')
    .action(async (opts: { seconds: string; vus: string; leakMb: string; capGib: string; reserveGib: string; workerMaxRssMb: string; clip?: string; out: string; png?: string }) => {
      const { demoLeak } = await load();
      const clip = opts.clip ?? (await shortestDevClip());
      const out = resolve(opts.out);
      const r = await demoLeak({
        seconds: Number(opts.seconds),
        vus: Number(opts.vus),
        leakMb: Number(opts.leakMb),
        capGiB: Number(opts.capGib),
        reserveGiB: Number(opts.reserveGib),
        workerMaxRssMb: Number(opts.workerMaxRssMb),
        clip,
        out,
        ...(opts.png !== undefined ? { png: resolve(opts.png) } : {}),
        log: (l) => process.stderr.write(`${l}\n`),
      });
      process.stdout.write(`A = in-process (/transcriptions/sync), B = process-isolated (/transcriptions/process-isolated)\n\n${r.table}\n\nreports: ${out}\n`);
    });
}

async function shortestDevClip(): Promise<string> {
  const { corpusDir, loadClips } = await import('../loadtest/corpus.js');
  const clips = loadClips('dev', corpusDir(process.env)).sort((a, b) => a.durationSeconds - b.durationSeconds);
  if (clips[0] === undefined) throw new Error('no clip in the shared corpus: pass --clip <file>');
  return clips[0].path;
}
