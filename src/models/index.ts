export { BUILT_IN_CATALOGUE, loadCatalogue, modelFileName, type Catalogue, type CatalogueEntry, type WhisperModelSize } from './catalogue.js';
export { checkFile, pullModel, sha1File, type PullOptions, type PullProgress, type PullResult } from './download.js';
export { GGML_MAGIC, readGgmlHeader, type GgmlHeader } from './ggml.js';
export { listModels, type InstalledModel, type ModelListing, type PartialDownload } from './list.js';
export { configuredModel, modelsDir, type ConfiguredModel } from './paths.js';
