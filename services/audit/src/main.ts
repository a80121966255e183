import 'reflect-metadata';
import { runService } from '@platform/messaging';
import { auditService } from './audit.definition';

runService(() => auditService());
