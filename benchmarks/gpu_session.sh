#!/usr/bin/env bash
# One device-tool call: install carried wheels, unpack the benchmark FASTA, run the GPU tests,
# measure Triton tiles, then time `varbind annotate` end to end. Run from the folder holding wt/
# Steps: STEPS="tests tiles e2e cold" (default all).
set -u
STEPS=${STEPS:-"tests tiles e2e stages cold"}
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site whl/*.whl
export PYTHONPATH=$PWD/wt:/tmp/site PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch, triton, numba, numpy; print('torch', torch.__version__, 'triton', triton.__version__, 'numba', numba.__version__, 'numpy', numpy.__version__)"
FA=/tmp/hg19_snvs.fa
[ -f $FA ] || { time python3 wt/benchmarks/make_snv_vcf.py --unpack seq.npz $FA; }
TILES=$OUT/tiles.json
[ -n "${SHIPPED_TILES:-}" ] && TILES=
for step in $STEPS; do
  case $step in
  tests) (cd wt && python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_gpu_kernels.py) 2>&1 | tee $OUT/gpu_tests.log ;;
  tiles) python3 wt/benchmarks/triton_tiles.py --models deepbind ${TILE_PANELS:-} -o $OUT/tiles.json 2>&1 | tee $OUT/tiles.log ;;
  e2e) for m in ${E2E_MODELS:-deepbind}; do
         VARBIND_TILES=$TILES python3 wt/benchmarks/annotate.py --end-to-end snvs.vcf.gz --fasta $FA --models $m \
           --device cuda --repeats ${REPEATS:-2} --also-no-deepfind 2>&1 | tee -a $OUT/e2e.log
       done ;;
  stages) for m in ${E2E_MODELS:-deepbind}; do
            /usr/bin/time -f "stages $m: %e s wall, %M KB peak RSS" python3 -m varbind --debug annotate snvs.vcf.gz --fasta $FA \
              -o /tmp/stages.vcf.gz --models $m --device cuda 2>&1 | grep -E "stages|annotated|wall" | tee -a $OUT/stages.log
          done ;;
  identity) zcat snvs.vcf.gz | awk '/^#/ || n++ < 40000' > /tmp/snv40k.vcf
            python3 - <<'PY' 2>&1 | tee -a $OUT/identity.log
import filecmp
from varbind import annotate, annotate_pipeline as pl
panel = annotate.resolve_panel("deepbind")
outs = []
for size in (2048, 32768):
    pl.TASK_GPU = size
    out = f"/tmp/ident_{size}.vcf"
    annotate.annotate_vcf("/tmp/snv40k.vcf", "/tmp/hg19_snvs.fa", out, panel, settings=annotate.Settings(device="cuda"),
                          command="identity")
    outs.append(out)
print("GPU output identical for tasks of 2,048 and 32,768 records (40,000 SNVs, DeepFind on):",
      filecmp.cmp(*outs, shallow=False))
PY
            ;;
  cold) zcat snvs.vcf.gz | awk '/^#/ || n++ < 1000' > /tmp/snv1k.vcf
        export TRITON_CACHE_DIR=/tmp/fresh_triton; rm -rf $TRITON_CACHE_DIR
        for i in 1 2; do
          /usr/bin/time -f "cold start run $i: %e s wall, %M KB peak RSS" env VARBIND_TILES=$TILES python3 -m varbind \
            annotate /tmp/snv1k.vcf --fasta $FA -o /tmp/o1k.vcf.gz --models deepbind --device cuda 2>&1 | tee -a $OUT/cold.log
        done
        unset TRITON_CACHE_DIR ;;
  esac
done
