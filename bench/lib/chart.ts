// The chart helper lives with the load-test report in src/ (bench may import src, not the reverse).
export * from '../../src/loadtest/chart.js';
