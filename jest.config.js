/** Jest: unit tests of the panel's model, API client and formatting (tests/js). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests/js'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/tests/js/tsconfig.json' }]
  },
  moduleFileExtensions: ['ts', 'tsx', 'js', 'json'],
  collectCoverageFrom: ['labextension/src/**/*.{ts,tsx}'],
  coverageDirectory: 'coverage'
};
