# varbind: `make demo` runs the main job on the embedded example, `make test` runs the tests.
# Each target installs what it needs first (a venv in .venv; torch from the local CPU wheel).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PIP    := $(PY) -m pip install -q --disable-pip-version-check

.PHONY: install tools demo test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e '.[dev]'
	$(PY) -c 'from varbind.predict.warmup import main; main()'
	@touch $(STAMP)

install: $(STAMP)

# Command-line clients the tests drive for real (bcftools, tabix, vcf-validator from Debian's vcftools; chromium).
tools:
	@if command -v bcftools >/dev/null && command -v vcf-validator >/dev/null && command -v tabix >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bcftools tabix vcftools >/dev/null; \
	else echo "note: bcftools/tabix/vcftools missing and not root; the tests that drive them will skip"; fi
	@# headless Chromium: the report tests load the HTML page in it; `varbind report --format pdf` prints with it
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation fonts-dejavu-core >/dev/null; \
	else echo "note: chromium missing and not root; the report browser tests will skip"; fi

# The main job on the embedded example (a synthetic genome with planted TF sites, examples/demo/):
# annotate its VCF with the default panel, then draw the mutation map of the ETS site it breaks.
demo: $(STAMP)
	@mkdir -p out
	$(VENV)/bin/varbind annotate examples/demo/variants.vcf --fasta examples/demo/ref.fa \
		-o out/demo.vcf.gz --scores out/demo_scores.parquet
	$(VENV)/bin/varbind mutmap chr1:286-325 --fasta examples/demo/ref.fa --tf ELF1,ELK1,GABPA --top 3 \
		--vcf examples/demo/variants.vcf -o out/demo_mutmap.png
	@echo "demo outputs: out/demo.vcf.gz (INFO/VARBIND, VB_MAXGAIN, VB_MAXLOSS, VB_DEEPFIND), out/demo_scores.parquet, out/demo_mutmap.png"

test: $(STAMP) tools
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not data"

bench: $(STAMP)
	$(PY) benchmarks/score.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
