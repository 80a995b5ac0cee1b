#!/usr/bin/env bash
# One device-tool call, from the repository root: install the carried wheels (.whl/), unpack the
# benchmark FASTA (.device/seq.npz, made by make_snv_vcf.py --pack), then the steps named in STEPS:
#   tests     the GPU tests (tests/test_gpu_kernels.py)
#   e2e       benchmarks/annotate.py --end-to-end on .device/snvs.vcf.gz for each panel of E2E_MODELS
#   big       the same once on .device/big.vcf.gz (the derived + simulated DeepFind SNVs)
#   stages    `varbind --debug annotate`: busy seconds of each stage, peak RSS
#   identity  GPU output for tasks of 2,048 and 32,768 records, and with/without --scores, compared
#   cold      first and second `annotate` of 1,000 SNVs with an empty Triton cache
#   switch    `varbind --debug annotate` in one host process with Python's 5 ms thread switch interval
#             and with annotate's own (stream.GPU_SWITCH_INTERVAL): stage busy seconds, wall
#   satdebug  `varbind --debug annotate` of the saturation VCF (panel SAT_MODELS, default deepbind) with each of SAT_DEBUG_WORKERS host workers
#             (default 12), after a warm-up run: the whole log (per-part, per-task and stage times) and
#             GPU utilisation every 250 ms (nvidia-smi) in $OUT
#   profile   benchmarks/service_profile.py on PROFILE_N (default 200,000) saturation SNVs: the parent's
#             scoring alone (what limits --host-workers), cProfile and torch.profiler by kernel
#   multigpu  on a host of several GPUs: `annotate` of .device/snvs.vcf.gz in one process (one GPU), with
#             --host-workers 6 (the scoring service on every GPU) and with --workers N_GPUS (a Dask worker
#             per GPU); wall clock, per-GPU utilisation, and whether the three VCF texts are identical
#   heads     benchmarks/heads.py: the panel's dense layers through torch and the fused Triton kernel
#             (tile shapes HEADS_BLOCKS x HEADS_WARPS)
#   startprof where the parent's start goes on the GPU (what passes before the first part is handed
#             out): cProfile of `varbind --debug annotate` of 200,000 saturation SNVs with 14 host
#             workers, for each panel of START_MODELS (default "deepbind default"), after a warm-up run
#   subkernel benchmarks/snv_subwindow.py: the SNV kernel per group alone and with DeepFind's sub-window
#   sat       SAT_N (default 2,000,000) saturation SNVs of the pack (make_snv_vcf.py --saturate), then
#             --end-to-end with --host-workers each of SAT_WORKERS (default "12 15"), the scoring call
#             alone on the first ALONE_N (default 500,000); SAT_ANNOTATE_DEVICE=cuda runs the command on every
#             GPU of the host (the call alone on one)
# Files are written to $OUT. Inputs: make_snv_vcf.py -o .device/snvs.vcf.gz; -o .device/big.vcf.gz
# --avinput derived simulated --pack .device/seq.npz.
set -u
STEPS=${STEPS:-"tests e2e stages cold"}
OUT=${OUT:-/tmp/out}
D=.device
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1
# The device's image sets PYTHONDONTWRITEBYTECODE=1 and ships torch without compiled bytecode, so
# every process compiled ~940 modules of torch from source: `import torch` 5-7 s there, 2.2-2.5 s
# with the bytecode kept (measured 2026-12-01). A user's pip install compiles it; so do these runs,
# once, into a cache of their own (the first import below).
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX=/tmp/pycache
python3 -c "import torch, varbind.annotate.api, varbind.annotate.part_worker, varbind.deepfind.model"
nvidia-smi -L
python3 -c "import torch, triton, numba, numpy; print('torch', torch.__version__, 'triton', triton.__version__, 'numba', numba.__version__, 'numpy', numpy.__version__)"
FA=/tmp/hg19_snvs.fa
[ -f $FA ] || { time python3 benchmarks/make_snv_vcf.py --unpack $D/seq.npz $FA; }
for step in $STEPS; do
  case $step in
  tests) python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/test_gpu_kernels.py 2>&1 | tee $OUT/gpu_tests.log ;;
  e2e) for m in ${E2E_MODELS:-deepbind}; do
         python3 benchmarks/annotate.py --end-to-end $D/snvs.vcf.gz --fasta $FA --models $m \
           --device cuda --repeats ${REPEATS:-3} ${E2E_FLAGS:---also-no-deepfind --also-one-process} 2>&1 | tee -a $OUT/e2e.log
       done ;;
  big) python3 benchmarks/annotate.py --end-to-end $D/big.vcf.gz --fasta $FA --models ${BIG_MODELS:-deepbind} \
         --device cuda --repeats ${BIG_REPEATS:-1} 2>&1 | tee -a $OUT/e2e_big.log ;;
  stages) for m in ${E2E_MODELS:-deepbind}; do
            /usr/bin/time -f "stages $m: %e s wall, %M KB peak RSS" python3 -m varbind --debug annotate $D/snvs.vcf.gz \
              --fasta $FA -o /tmp/stages.vcf.gz --models $m --device cuda 2>&1 | grep -E "stages|annotated|wall" | tee -a $OUT/stages.log
          done ;;
  identity) zcat $D/snvs.vcf.gz | awk '/^#/ || n++ < 40000' > /tmp/snv40k.vcf
            zcat $D/snvs.vcf.gz | awk '/^#/ || n++ < 3000' > /tmp/snv3k.vcf
            python3 - <<'PY' 2>&1 | tee -a $OUT/identity.log
import filecmp
from varbind import annotate
from varbind.annotate import pipeline
panel = annotate.resolve_panel("deepbind")
outs = []
for vcf, size, scores in (("/tmp/snv40k.vcf", 2048, None), ("/tmp/snv40k.vcf", 32768, None),
                          ("/tmp/snv3k.vcf", 32768, None), ("/tmp/snv3k.vcf", 32768, "/tmp/ident.parquet")):
    pipeline.TASK_GPU = size
    out = f"/tmp/ident_{len(outs)}.vcf"
    annotate.annotate_vcf(vcf, "/tmp/hg19_snvs.fa", out, panel, settings=annotate.Settings(device="cuda"),
                          command="identity", scores=scores)
    outs.append(out)
    if len(outs) == 2:
        print("GPU output identical for tasks of 2,048 and 32,768 records (40,000 SNVs, DeepFind on):",
              filecmp.cmp(outs[0], outs[1], shallow=False), flush=True)
print("GPU INFO identical with the top-k selection on the GPU and from full tables on the host (--scores; "
      "3,000 SNVs):", filecmp.cmp(outs[2], outs[3], shallow=False), flush=True)
import gzip
texts = []
for workers in (1, 6):
    out = f"/tmp/ident_hw{workers}.vcf.gz"
    annotate.annotate_vcf(".device/snvs.vcf.gz", "/tmp/hg19_snvs.fa", out, panel, settings=annotate.Settings(device="cuda"),
                          command="identity", host_workers=workers)
    texts.append(gzip.open(out, "rb").read())
print("GPU VCF text identical in one host process and by parts in 6 worker processes (171,409 SNVs, DeepFind on):",
      texts[0] == texts[1], len(texts[0]))
PY
            ;;
  cold) zcat $D/snvs.vcf.gz | awk '/^#/ || n++ < 1000' > /tmp/snv1k.vcf
        export TRITON_CACHE_DIR=/tmp/fresh_triton; rm -rf $TRITON_CACHE_DIR
        for i in 1 2; do
          /usr/bin/time -f "cold start run $i: %e s wall, %M KB peak RSS" python3 -m varbind \
            annotate /tmp/snv1k.vcf --fasta $FA -o /tmp/o1k.vcf.gz --models deepbind --device cuda 2>&1 | tee -a $OUT/cold.log
        done
        unset TRITON_CACHE_DIR ;;
  switch) for sw in ${SWITCH_VALUES:-0.005 default}; do
            if [ $sw = default ]; then unset VARBIND_SWITCH_INTERVAL; else export VARBIND_SWITCH_INTERVAL=$sw; fi
            /usr/bin/time -f "switch $sw: %e s wall, %M KB peak RSS" python3 -m varbind --debug annotate $D/snvs.vcf.gz \
              --fasta $FA -o /tmp/switch.vcf.gz --models deepbind --device cuda --host-workers 1 2>&1 \
              | grep -E "stages|annotated|wall" | tee -a $OUT/switch.log
          done
          unset VARBIND_SWITCH_INTERVAL ;;
  satdebug) [ -f /tmp/sat.vcf.gz ] || python3 benchmarks/make_snv_vcf.py -o /tmp/sat.vcf.gz --saturate $D/seq.npz ${SAT_N:-2000000}
       # warm first (the kernels compiled and cached), as the timed runs of benchmarks/annotate.py
       python3 -c "import gzip, itertools, sys; sys.stdout.writelines(itertools.islice((l for l in gzip.open('/tmp/sat.vcf.gz', 'rt')), 20100))" > /tmp/warm.vcf
       python3 -m varbind annotate /tmp/warm.vcf --fasta $FA -o /tmp/warm.out.vcf.gz --models ${SAT_MODELS:-deepbind} --device cuda --quiet
       for w in ${SAT_DEBUG_WORKERS:-12}; do
         nvidia-smi --query-gpu=timestamp,utilization.gpu --format=csv,noheader,nounits -lms 250 > $OUT/util_$w.csv &
         SMI=$!
         date +%s.%N > $OUT/satdebug_$w.start
         /usr/bin/time -f "satdebug $w workers: %e s wall, %M KB peak RSS (largest process)" python3 -m varbind --debug \
           annotate /tmp/sat.vcf.gz --fasta $FA -o /tmp/satd.vcf.gz --models ${SAT_MODELS:-deepbind} --device cuda \
           --host-workers $w > $OUT/satdebug_$w.log 2>&1
         kill $SMI
         grep -E "host workers|annotated|wall|indexed|tasks scored" $OUT/satdebug_$w.log | tail -8
         awk -F', ' '{s += $2; n++; if ($2 > 0) b++} END {printf "GPU utilisation: mean %.0f%%, samples > 0: %.0f%% (%d samples)\n", s / n, 100 * b / n, n}' \
           $OUT/util_$w.csv
       done 2>&1 | tee -a $OUT/satdebug.log ;;
  profile) [ -f /tmp/sat.vcf.gz ] || python3 benchmarks/make_snv_vcf.py -o /tmp/sat.vcf.gz --saturate $D/seq.npz ${SAT_N:-2000000}
       python3 benchmarks/service_profile.py /tmp/sat.vcf.gz --fasta $FA --models ${SAT_MODELS:-deepbind} -n ${PROFILE_N:-200000} --kernels --threads 2 3 \
         2>&1 | tee -a $OUT/profile.log ;;
  multigpu) NG=$(nvidia-smi -L | wc -l)
       nvidia-smi --query-gpu=index,utilization.gpu --format=csv,noheader,nounits -lms 250 > /tmp/mutil.txt &
       SMI=$!
       for mode in "one" "--host-workers 6" "--workers $NG"; do
         flags=$mode; [ "$mode" = one ] && flags=""
         mkdir -p "/tmp/mg/${mode// /_}"  # the same file name in each: the header records -o
         echo "== $mode: $(date +%s.%N)" >> /tmp/mutil.txt
         /usr/bin/time -f "multigpu [$mode] ($NG GPUs): %e s wall, %M KB peak RSS (largest process)" python3 -m varbind \
           annotate $D/snvs.vcf.gz --fasta $FA -o "/tmp/mg/${mode// /_}/out.vcf.gz" --models deepbind --device cuda $flags 2>&1 \
           | tail -3 | tee -a $OUT/multigpu.log
       done
       kill $SMI
       awk '/^==/ {m = $0; next} {split($0, f, ", "); s[m" gpu"f[1]] += f[2]; n[m" gpu"f[1]]++}
            END {for (k in s) printf "%s: mean utilisation %.0f%%\n", k, s[k] / n[k]}' /tmp/mutil.txt | sort | tee -a $OUT/multigpu.log
       python3 - "$NG" <<'PY' 2>&1 | tee -a $OUT/multigpu.log
import gzip, sys
ng = sys.argv[1]
t = {m: gzip.open(f"/tmp/mg/{m}/out.vcf.gz", "rb").read() for m in ("one", "--host-workers_6", f"--workers_{ng}")}
print(f"VCF text identical, one GPU vs the scoring service on {ng} GPUs:", t["one"] == t["--host-workers_6"],
      f"; vs a Dask worker per GPU: {t['one'] == t[f'--workers_{ng}']} ({len(t['one']):,} bytes)")
a = t["one"].splitlines()
for m, text in t.items():
    b = text.splitlines()
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if diff or len(a) != len(b):
        print(f"{m}: {len(diff)} of {len(a)} lines differ ({len(b)} lines); first: {a[diff[0]][:300]!r} | {b[diff[0]][:300]!r}"
              if diff else f"{m}: {len(b)} lines against {len(a)}")
PY
       ;;
  heads) python3 benchmarks/heads.py --models deepbind --block ${HEADS_BLOCKS:-32 64 128} --warps ${HEADS_WARPS:-2 4 8} \
         2>&1 | tee -a $OUT/heads.log ;;
  startprof) [ -f /tmp/sat.vcf.gz ] || python3 benchmarks/make_snv_vcf.py -o /tmp/sat.vcf.gz --saturate $D/seq.npz ${SAT_N:-2000000}
       zcat /tmp/sat.vcf.gz | head -n 200100 > /tmp/s200k.vcf
       for m in ${START_MODELS:-deepbind default}; do
         python3 -m varbind annotate /tmp/s200k.vcf --fasta $FA -o /tmp/sp.vcf.gz --models $m --device cuda --quiet --host-workers 14
         python3 -m cProfile -o $OUT/start_$m.prof -m varbind --debug annotate /tmp/s200k.vcf --fasta $FA -o /tmp/sp.vcf.gz \
           --models $m --device cuda --host-workers 14 2>&1 | grep -vE "part of|task of" | tee -a $OUT/startprof.log
         python3 -c "import pstats, sys; pstats.Stats(sys.argv[1]).sort_stats('cumulative').print_stats(70)" $OUT/start_$m.prof \
           2>&1 | grep -vE "^$|parallel.py:242|acquire|queue.py|threading.py" | cut -c1-170 | head -80 | tee -a $OUT/startprof.log
       done ;;
  subkernel) python3 benchmarks/snv_subwindow.py --models deepbind -n 16384 2>&1 | tee -a $OUT/subkernel.log ;;
  sat) [ -f /tmp/sat.vcf.gz ] || python3 benchmarks/make_snv_vcf.py -o /tmp/sat.vcf.gz --saturate $D/seq.npz ${SAT_N:-2000000}
       python3 benchmarks/annotate.py --end-to-end /tmp/sat.vcf.gz --fasta $FA --models ${SAT_MODELS:-deepbind} \
         --device cuda --repeats 1 --alone-n ${ALONE_N:-500000} --host-workers ${SAT_WORKERS:-12 15} \
         ${SAT_ANNOTATE_DEVICE:+--annotate-device $SAT_ANNOTATE_DEVICE} 2>&1 | tee -a $OUT/e2e_sat.log ;;
  esac
done
