export { TranscriptionService, type TranscribeFileRequest, type FileTranscription, type TranscriptionObserver, type EngineView } from './service.js';
export { StreamPlaces, type StreamOwner, type StreamPlace, type StreamLimits } from './stream-places.js';
export { Plan, type PlanRequest } from './plan.js';
export { transcriptionResponseSchema, type TranscriptionResponse } from './schema.js';
export { RESPONSE_FORMATS, CONTENT_TYPES, renderText, toSrt, toVtt, toText, captionCues, type ResponseFormat, type Cue } from './formats.js';
export { LiveStream, type LiveStreamEvents, type LiveStreamSettings, type StreamObserver } from './live-stream.js';
