export { loadConfig, ConfigError, type LoadConfigOptions } from './load.js';
export { configSchema, configShape, CONFIG_ALIASES, ENGINE_NAMES, VAD_KINDS, MACHINE_DEFAULTS, type Config, type ConfigInput } from './schema.js';
