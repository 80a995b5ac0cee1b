#!/usr/bin/env bash
# One device-tool call, from the repository root (after gpu_session.sh's set-up lines): the big VCF
# annotated by parts with --debug (worker start-up, per-part times), then with 6 workers, the cold
# start of 1,000 SNVs, and one host process last.
set -u
OUT=${OUT:-/tmp/out}
D=.device
FA=/tmp/hg19_snvs.fa
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1
[ -f $FA ] || python3 benchmarks/make_snv_vcf.py --unpack $D/seq.npz $FA
run() {  # label, extra args
  label=$1; shift
  /usr/bin/time -f "$label: %e s wall, %M KB peak RSS (largest process)" python3 -m varbind --debug annotate $D/big.vcf.gz \
    --fasta $FA -o /tmp/big.vcf.gz --models deepbind --device cuda "$@" 2>&1 \
    | grep -E "host workers|part of|annotated|wall|stages" | tail -8 | tee -a $OUT/parts.log
}
run "big, host workers auto (12)"
zcat $D/snvs.vcf.gz | awk '/^#/ || n++ < 1000' > /tmp/snv1k.vcf
export TRITON_CACHE_DIR=/tmp/fresh_triton; rm -rf $TRITON_CACHE_DIR
for i in 1 2; do
  /usr/bin/time -f "cold start run $i: %e s wall, %M KB peak RSS" python3 -m varbind annotate /tmp/snv1k.vcf --fasta $FA \
    -o /tmp/o1k.vcf.gz --models deepbind --device cuda 2>&1 | tail -3 | tee -a $OUT/cold.log
done
unset TRITON_CACHE_DIR
run "big, 6 host workers" --host-workers 6
run "big, one host process" --host-workers 1
