export {
  createTestDatabase,
  isReachable,
  testInfrastructure,
  uniqueSubjectPrefix,
  type TestDatabase,
} from './infrastructure';
