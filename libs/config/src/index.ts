export {
  ConfigError,
  enumSetting,
  integerSetting,
  keyMaterialSetting,
  loadConfig,
  sensitiveStringSetting,
  stringSetting,
  urlSetting,
  type Environment,
  type KeyMaterial,
  type Setting,
} from './config';
export {
  DEFAULT_HTTP_PORTS,
  REPO_ROOT,
  SERVICE_NAMES,
  commonSettings,
  databaseSettings,
  describeConfig,
  loadServiceConfig,
  type CommonConfig,
  type ServiceName,
} from './platform-config';
