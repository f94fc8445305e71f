# The README's two commands. Both set up what is missing first (apt packages,
# npm packages, native addon, TypeScript build), quietly when all is there.
.PHONY: run test setup lint bench loadtest demo-leak

setup:
	@scripts/setup.sh

run: setup
	@node dist/main.js

test: setup
	@scripts/setup.sh --test
	@npm run --silent lint
	@npm run --silent typecheck
	@HARK_TEMP_GUARD=strict npx vitest run --reporter=default --reporter=json --outputFile=.vitest-results.json
	@node scripts/test-summary.mjs .vitest-results.json

bench: setup
	@npm run --silent bench:accuracy
	@npm run --silent bench:overhead

# Load test with the settings of .env.k6 (see .env.k6.example): k6 when it is
# installed, otherwise how to run the same scenarios with hark's own runner.
loadtest:
	@if command -v k6 >/dev/null 2>&1; then \
		set -a; if [ -f .env.k6 ]; then . ./.env.k6; fi; set +a; \
		AUDIO_LIST="$$(realpath "$${AUDIO_LIST:-audio-list.txt}")" k6 run loadtest/k6/transcribe.js; \
	else \
		echo "k6 is not installed (https://grafana.com/docs/k6/latest/set-up/install-k6/)."; \
		echo "The same scenarios and .env.k6 settings run with hark's built-in runner:"; \
		echo "  cp .env.k6.example .env.k6   # then edit BASE_URL, ENDPOINT, TEST_MODE, AUDIO_LIST"; \
		echo "  node loadtest/make-audio-list.mjs ../shared/corpus/dev > audio-list.txt"; \
		echo "  npx hark loadtest run        # report in loadtest/results/<time>-<mode>/report.html"; \
	fi

# The leak demonstration: hark with a leaking engine, in-process vs process-isolated.
demo-leak: setup
	@node dist/cli/main.js demo leak
