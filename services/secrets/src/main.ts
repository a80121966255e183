import 'reflect-metadata';
import { runService } from '@platform/messaging';
import { secretsService } from './secrets.definition';

runService(() => secretsService());
