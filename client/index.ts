/** client: a typed HTTP client of the log that verifies everything it receives. */
export * from './log-client.js';
