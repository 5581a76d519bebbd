PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install messages clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

## make run: virtualenv, install, migrate, demo data, web + worker + scheduler (Ctrl-C stops all)
run: $(STAMP)
	$(PY) -m config.stack run

## make test: the whole suite (SQLite + embedded Redis unless DATABASE_URL / REDIS_URL are set), spread over
## TEST_WORKERS processes (one per core; each has its own database and Redis database; TEST_WORKERS=0: one process)
## Compiled modules and pytest's rewritten test modules are kept in __pycache__ (ignored by git) even where
## PYTHONDONTWRITEBYTECODE is set: without them every test process compiles them all again (about 10 s each).
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m config.stack exec -- env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -c config/pytest.ini --rootdir=. -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## make messages: refresh and compile translations (needs GNU gettext)
messages: $(STAMP)
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=bench --ignore=tests
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
