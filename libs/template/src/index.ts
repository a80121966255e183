export {
  parseTemplate,
  Template,
  TEMPLATE_LIMITS,
  DEFAULT_TEMPLATE_NAME,
  type ExecuteOptions,
  type ParseTemplateOptions,
} from './template';
export { GoStringMap } from './values';
export { goValueText, redactedValueText, type ValueVerb } from './functions';
export { TemplateError, TemplateErrorCode, TemplateExecutionError, TemplateParseError } from './errors';
