#!/usr/bin/env bash
# One device-tool call, from the repository root: one host process on the 171,409 real SNVs
# (.device/snvs.vcf.gz), the current tree against an older commit's package, alternating, after one
# untimed run that compiles the kernels. Prepare the old package here first (it travels in .device):
#   rm -rf .device/old && mkdir -p .device/old && git archive OLD_COMMIT varbind | tar -x -C .device/old
# and carry .whl and .device. Wall and stage times go to $OUT/ab.log.
set -u
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONUNBUFFERED=1
python3 benchmarks/make_snv_vcf.py --unpack .device/seq.npz /tmp/hg19_snvs.fa
ln -sfn ../../pretrained .device/old/pretrained  # the old package finds the models beside it
run() {
  label=$1; path=$2
  PYTHONPATH=$path:/tmp/site /usr/bin/time -f "$label: %e s wall, %M KB" python3 -m varbind --debug annotate .device/snvs.vcf.gz \
    --fasta /tmp/hg19_snvs.fa -o /tmp/ab.vcf.gz --models deepbind --device cuda --host-workers 1 2>&1 \
    | grep -E "stages|wall" | tee -a $OUT/ab.log
}
run "warm-up (new, compiles)" $PWD
for i in 1 2; do run "old $i" $PWD/.device/old; run "new $i" $PWD; done
