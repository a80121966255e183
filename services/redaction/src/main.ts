import 'reflect-metadata';
import { runService } from '@platform/messaging';
import { redactionService } from './redaction.definition';

runService(() => redactionService());
