#!/usr/bin/env bash
# Mutation maps of three promoters on real hg19 sequence, with the 927 published DeepBind models.
# Run from the repository root:  bash examples/mutmap/make_figures.sh
# Needs ../shared (hg19_sparse.fa.gz and the DeepBind db folder); writes into examples/mutmap/.
set -euo pipefail
FA=../shared/data/genome/hg19_sparse.fa.gz
DB=../shared/data/deepbind
OUT=examples/mutmap
VB="${PYTHON:-python} -m varbind"

# TERT promoter, with the recurrent cancer mutations C228T and C250T (G>A on the + strand) marked
$VB mutmap chr5:1295104-1295362 --fasta $FA --models $DB --ids D00409.004,D00360.007 \
    --vcf $OUT/tert_mutations.vcf -o $OUT/tert_promoter.png --table $OUT/tert_promoter_ets.tsv.gz
# C228T: wild-type and mutant maps side by side, ETS-family ChIP-seq models
$VB mutmap chr5:1295104-1295362 --fasta $FA --models $DB --ids D00409.004,D00360.007,D00363.004 \
    --variant chr5:1295228:G:A -o $OUT/tert_C228T.png
# C250T: the 3 models (of all 927) whose score changes most at this variant
$VB mutmap chr5:1295104-1295362 --fasta $FA --models $DB --top 3 \
    --variant chr5:1295250:G:A -o $OUT/tert_C250T_top3.png
# LDLR promoter (SRE / SP1 sites): the 2 models with the largest effects among SREBF2 and SP1
$VB mutmap chr19:11199906-11200224 --fasta $FA --models $DB --tf SREBF2,SP1 --top 2 --row-bp 107 \
    -o $OUT/ldlr_promoter.png
# HBB promoter (TATA box, CACCC box, GATA sites): the 2 of GATA1, TBP, KLF16 with the largest effects
$VB mutmap chr11:5248252-5248439 --fasta $FA --models $DB --tf GATA1,TBP,KLF16 --top 2 \
    -o $OUT/hbb_promoter.png
# detector logos of the GABPA ChIP-seq model
$VB logo D00409.004 --models $DB -o $OUT/logo_GABPA_D00409.004.png
