// hark load test for k6 (https://k6.io). Configured only by environment
// variables, documented in .env.k6.example:
//
//   set -a; . ./.env.k6; set +a; k6 run loadtest/k6/transcribe.js
//
// The same scenarios run without k6: `hark loadtest run` (see README, "Load testing").
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import { scenarioFor } from './presets.js';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8000').replace(/\/+$/, '');
const ENDPOINT = __ENV.ENDPOINT || '/transcriptions/sync';
const TEST_MODE = __ENV.TEST_MODE || 'smoke';
const AUDIO_LIST = __ENV.AUDIO_LIST || 'audio-list.txt';
const THINK_TIME = Number(__ENV.THINK_TIME || '0');
const REQUEST_TIMEOUT = __ENV.REQUEST_TIMEOUT || '300s';
const JOB_POLL_INTERVAL = Number(__ENV.JOB_POLL_INTERVAL || '0.5');

const ENDPOINTS = ['/transcriptions', '/transcriptions/sync', '/transcriptions/process-isolated', '/v1/audio/transcriptions', 'jobs'];
if (!ENDPOINTS.includes(ENDPOINT)) throw new Error(`ENDPOINT must be one of ${ENDPOINTS.join(', ')}, not "${ENDPOINT}"`);

const scenario = scenarioFor(TEST_MODE, {
  MAX_VUS: __ENV.MAX_VUS,
  RAMP_UP: __ENV.RAMP_UP,
  STEADY: __ENV.STEADY,
  RAMP_DOWN: __ENV.RAMP_DOWN,
});

// Audio is read once, in the init context: one path per line, '#' comments. k6's open() resolves a
// relative path from this script's folder, so give AUDIO_LIST and its entries as absolute paths
// (make-audio-list.mjs writes absolute paths; `make loadtest` makes AUDIO_LIST absolute).
const paths = open(AUDIO_LIST)
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
if (paths.length === 0) throw new Error(`${AUDIO_LIST} lists no audio files`);
const files = paths.map((p) => ({ name: p.split('/').pop(), data: open(p, 'b') }));

export const options = {
  scenarios: {
    [scenario.mode]: {
      executor: 'ramping-vus',
      startVUs: scenario.startVUs,
      stages: scenario.stages,
      gracefulRampDown: '30s',
    },
  },
  thresholds: {
    // Nothing but rejections (503 AT_CAPACITY) may fail; latency is reported, not judged.
    http_req_failed: ['rate<0.05'],
    checks: ['rate>0.95'],
    transcription_time: ['p(95)<60000'],
  },
};

/** Client wall time of a transcription, ms (for jobs: submit to completion). */
const transcriptionTime = new Trend('transcription_time', true);
/** The server's processing_ms, from the answer. */
const processingTime = new Trend('processing_time', true);
/** Seconds of audio transcribed. */
const audioSeconds = new Counter('audio_seconds');
/** 503 AT_CAPACITY answers: the server refused the request, as designed. */
const rejected = new Counter('rejected_at_capacity');
const failed = new Counter('transcription_errors');

// A 503 AT_CAPACITY is hark refusing work as designed: not a failed request in http_req_failed
// (rejected_at_capacity counts them).
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 503));

const params = { timeout: REQUEST_TIMEOUT, tags: { endpoint: ENDPOINT } };

function record(res, started, body) {
  if (res.status === 503 && body && body.error && body.error.code === 'AT_CAPACITY') {
    rejected.add(1);
    return;
  }
  const ok = check(res, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
  if (!ok) {
    failed.add(1);
    return;
  }
  transcriptionTime.add(Date.now() - started);
  if (body && typeof body.duration_seconds === 'number') audioSeconds.add(body.duration_seconds);
  if (body && typeof body.processing_ms === 'number') processingTime.add(body.processing_ms);
}

function parse(res) {
  try {
    return res.json();
  } catch (err) {
    void err; // not JSON (a text answer, or no body)
    return null;
  }
}

function runJob(file, started) {
  const submit = http.post(`${BASE_URL}/api/v1/jobs`, { file: http.file(file.data, file.name) }, params);
  const accepted = parse(submit);
  if (submit.status !== 202) return record(submit, started, accepted);
  const id = accepted.job_id;
  for (;;) {
    sleep(JOB_POLL_INTERVAL);
    const res = http.get(`${BASE_URL}/api/v1/jobs/${id}`, { tags: { endpoint: 'jobs-poll' } });
    const job = parse(res);
    if (res.status !== 200 || !job) return record(res, started, job);
    if (job.status === 'completed') {
      const result = http.get(`${BASE_URL}/api/v1/jobs/${id}/result?format=json`, { tags: { endpoint: 'jobs-result' } });
      return record(result, started, parse(result));
    }
    if (job.status === 'failed' || job.status === 'cancelled') {
      failed.add(1);
      return;
    }
  }
}

export default function () {
  const file = files[Math.floor(Math.random() * files.length)];
  const started = Date.now();
  if (ENDPOINT === 'jobs') {
    runJob(file, started);
  } else {
    const body = { file: http.file(file.data, file.name) };
    if (ENDPOINT === '/v1/audio/transcriptions') body.model = 'whisper-1';
    const res = http.post(`${BASE_URL}${ENDPOINT}`, body, params);
    record(res, started, parse(res));
  }
  if (THINK_TIME > 0) sleep(THINK_TIME);
}
