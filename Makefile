# Thin aliases for ./dev (the README's commands).
.PHONY: run test install check
run:
	./dev run
test:
	./dev test $(PYTEST_ARGS)
install:
	./dev install
check:
	./dev check
