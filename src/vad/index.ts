export { VAD_KINDS, vadSettingsFromConfig, type VadKind, type VadSettings, type SpeechRegion, type VoiceDetector } from './types.js';
export { loadDetector, preloadVad } from './detector.js';
export { speechRegions, SpeechSegmenter, type SpeechEvent } from './regions.js';
export { planUtterances, fileSpeechRegions, energyCutOptions, type UtterancePlan, type PlanOptions } from './plan.js';
export { SileroDetector, sileroModelPath, SILERO_MODEL_SHA256 } from './silero.js';
export { EnergyDetector } from './energy.js';
