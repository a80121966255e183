export { parseTemplate, Template, TEMPLATE_LIMITS, DEFAULT_TEMPLATE_NAME, type ParseTemplateOptions } from './template';
export { TemplateError, TemplateErrorCode, TemplateExecutionError, TemplateParseError } from './errors';
