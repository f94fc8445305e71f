export { BUILT_IN_CATALOGUE, loadCatalogue, loadCatalogueSync, MODEL_NAME, modelFileName, type Catalogue, type CatalogueEntry, type WhisperModelSize } from './catalogue.js';
export { checkFile, pullModel, sha1File, type PullOptions, type PullProgress, type PullResult } from './download.js';
export { GGML_MAGIC, readGgmlHeader, type GgmlHeader } from './ggml.js';
export { listModels, type InstalledModel, type ModelListing, type PartialDownload } from './list.js';
export { configuredModel, modelsDir, type ConfiguredModel } from './paths.js';
export { ModelCache, type Loadable, type ModelCacheOptions, type ModelEvent, type ModelLease, type ResidentModel, type UnloadReason, UNLOAD_REASONS } from './cache.js';
export { defaultWhisperModel, fileBytes, installedWhisperNames, whisperModelFile, whisperModelId, whisperModelName, type WhisperModelFile } from './ids.js';
export { ModelRegistry, type ModelInfo, type ModelPlace, type ModelRegistryDeps, type ModelState } from './registry.js';
