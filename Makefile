# The README's two commands. Both set up what is missing first (apt packages,
# npm packages, native addon, TypeScript build), quietly when all is there.
.PHONY: run test setup lint bench

setup:
	@scripts/setup.sh

run: setup
	@node dist/main.js

test: setup
	@scripts/setup.sh --test
	@npm run --silent lint
	@npm run --silent typecheck
	@npx vitest run --reporter=default --reporter=json --outputFile=.vitest-results.json
	@node scripts/test-summary.mjs .vitest-results.json

bench: setup
	@npm run --silent bench:accuracy
	@npm run --silent bench:overhead
