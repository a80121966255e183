import 'reflect-metadata';
import { runService } from '@platform/messaging';
import { renderService } from './render.definition';

runService(() => renderService());
