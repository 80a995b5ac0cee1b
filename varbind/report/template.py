"""The Jinja2 template of an evidence report (:mod:`varbind.report.html` fills it).

One HTML document, no external assets. The first script in ``<head>`` records every script error
and failed resource into ``#vb-status`` (``data-errors``); on ``load`` the page counts its images
and those decoded (``data-images``, ``data-images-decoded``) and shows a warning when one is not.
The table script sorts a table by the clicked header and filters its rows by the text typed.
"""

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d232a;
margin:0 auto;max-width:1180px;padding:18px 28px 60px;background:#fff}
h1{font-size:26px;margin:18px 0 4px}h2{font-size:20px;margin:28px 0 8px;border-bottom:2px solid #e3e7ec;
padding-bottom:4px}h3{font-size:17px;margin:22px 0 6px}
.meta{border-collapse:collapse;font-size:13px;margin:6px 0 10px}.meta th{text-align:left;color:#56606b;
font-weight:600;padding:2px 14px 2px 0;vertical-align:top}.meta td{padding:2px 0;word-break:break-all}
.lead{font-size:16px;background:#f4f7fa;border-left:4px solid #3b6ea5;padding:10px 14px;margin:10px 0}
.gain{color:#b2182b}.loss{color:#2166ac}
table.top{border-collapse:collapse;font-size:14px;margin:6px 0 12px}
table.top th,table.top td{padding:4px 10px;border-bottom:1px solid #e3e7ec;text-align:left}
table.top td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#56606b;font-size:13px}.warn{background:#fff4e5;border:1px solid #f0b35b;padding:8px 12px}
figure{margin:8px 0 14px}figure img{max-width:100%;height:auto;border:1px solid #eef0f3}
figcaption{font-size:13px;color:#56606b}
.prov{border-collapse:collapse;font-size:13px}.prov th{text-align:left;color:#56606b;padding:1px 12px 1px 0;
font-weight:600;vertical-align:top}.prov td{word-break:break-all}
.model{border:1px solid #e3e7ec;border-radius:6px;padding:4px 16px 10px;margin:12px 0}
.controls{margin:8px 0;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
.controls input{font-size:14px;padding:4px 8px;width:300px}
.scroll{max-height:560px;overflow:auto;border:1px solid #e3e7ec}
table.all{border-collapse:collapse;font-size:13px;width:100%}
table.all th{position:sticky;top:0;background:#f4f7fa;cursor:pointer;user-select:none;text-align:left;
padding:5px 8px;border-bottom:1px solid #cfd6de;white-space:nowrap}
table.all th[aria-sort=ascending]::after{content:" ▲"}table.all th[aria-sort=descending]::after{content:" ▼"}
table.all td{padding:3px 8px;border-bottom:1px solid #f0f2f5}table.all td.n{text-align:right;
font-variant-numeric:tabular-nums}
ul.caveats li{margin:4px 0}section.variant{margin-top:10px}
@media print{.controls,#vb-status{display:none}.scroll{max-height:none;overflow:visible}
section.variant+section.variant{break-before:page}.model{break-inside:avoid}}
"""

SCRIPT_HEAD = """
(function(){
  var errors=[];
  function note(msg){
    errors.push(String(msg).slice(0,300));
    var s=document.getElementById("vb-status");
    if(s){s.setAttribute("data-errors",String(errors.length));s.textContent=errors.join("\\n");}
  }
  window.addEventListener("error",function(e){
    var t=e.target;
    note(e.message||(t&&t.tagName?("could not load "+t.tagName.toLowerCase()):"error"));
  },true);
  window.addEventListener("unhandledrejection",function(e){note("unhandled rejection: "+e.reason);});
  window.vbErrors=function(){return errors.slice();};
})();
"""

SCRIPT_BODY = """
(function(){
  function cellValue(row,i,kind){
    var c=row.cells[i];var v=c.getAttribute("data-v");
    if(kind==="num"){var x=parseFloat(v);return isNaN(x)?null:x;}
    return (v===null?c.textContent:v).toLowerCase();
  }
  function sortBy(th){
    var table=th.closest("table"),body=table.tBodies[0],i=th.cellIndex,kind=th.getAttribute("data-kind");
    var dir=th.getAttribute("aria-sort")==="descending"?"ascending":"descending";
    if(kind==="text"&&!th.hasAttribute("aria-sort"))dir="ascending";
    var ths=table.tHead.rows[0].cells;for(var k=0;k<ths.length;k++)ths[k].removeAttribute("aria-sort");
    th.setAttribute("aria-sort",dir);
    var rows=Array.prototype.slice.call(body.rows),sign=dir==="ascending"?1:-1;
    rows.sort(function(a,b){
      var x=cellValue(a,i,kind),y=cellValue(b,i,kind);
      if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
      return x<y?-sign:x>y?sign:0;
    });
    rows.forEach(function(r){body.appendChild(r);});
  }
  function filter(input){
    var table=document.getElementById(input.getAttribute("data-table"));
    var words=input.value.toLowerCase().split(/\\s+/).filter(Boolean),shown=0,rows=table.tBodies[0].rows;
    for(var k=0;k<rows.length;k++){
      var text=rows[k].textContent.toLowerCase(),ok=words.every(function(w){return text.indexOf(w)>=0;});
      rows[k].hidden=!ok;if(ok)shown++;
    }
    document.getElementById(input.getAttribute("data-count")).textContent=shown+" of "+rows.length+" models";
  }
  document.querySelectorAll("table.all th").forEach(function(th){
    th.addEventListener("click",function(){sortBy(th);});
  });
  document.querySelectorAll("input.filter").forEach(function(inp){
    inp.addEventListener("input",function(){filter(inp);});
  });
  window.addEventListener("load",function(){
    var imgs=document.images,ok=0;
    for(var k=0;k<imgs.length;k++){if(imgs[k].complete&&imgs[k].naturalWidth>0)ok++;}
    var s=document.getElementById("vb-status");
    s.setAttribute("data-images",String(imgs.length));s.setAttribute("data-images-decoded",String(ok));
    s.setAttribute("data-loaded","1");
    if(ok<imgs.length){var w=document.getElementById("vb-warning");w.hidden=false;
      w.textContent=(imgs.length-ok)+" of "+imgs.length+" figures could not be displayed by this viewer.";}
  });
})();
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="varbind {{ meta.version }}">
<script>""" + SCRIPT_HEAD + """</script>
<title>varbind report · {% for v in variants %}{{ v.name }}{% if not loop.last %}, {% endif %}{% endfor %}</title>
<style>""" + STYLE + """</style>
</head>
<body>
<div id="vb-status" hidden data-errors="0" data-images="" data-images-decoded="" data-loaded="0"></div>
<div id="vb-warning" class="warn" hidden></div>
{% if variants|length > 1 %}
<p class="note">{{ variants|length }} variants in this report:
{% for v in variants %}<a href="#variant-{{ v.index }}">{{ v.name }}</a>{% if not loop.last %} · {% endif %}{% endfor %}</p>
{% endif %}
{% for v in variants %}
<section class="variant" id="variant-{{ v.index }}">
<h1>{{ v.name }}</h1>
<div class="note">Transcription-factor binding evidence from varbind (DeepBind-style models)</div>
<table class="meta">
<tr><th>Variant</th><td>{{ v.v.chrom }}:{{ v.v.pos }}:{{ v.v.ref }}:{{ v.v.alt }} (1-based position, as in a VCF){% if v.v.id not in ('', '.') %} · ID {{ v.v.id }}{% endif %}</td></tr>
<tr><th>Genome build</th><td>{{ meta.build }} · reference {{ meta.fasta }}</td></tr>
<tr><th>Scored window</th><td>{{ v.window }}</td></tr>
<tr><th>Model panel</th><td>{{ meta.panel }} ({{ meta.n_models }} models){% if meta.null_built %} · null distributions scored for this report (the source ships none){% endif %}</td></tr>
<tr><th>Panel sha256</th><td><code>{{ meta.panel_sha256 }}</code></td></tr>
<tr><th>varbind</th><td>version {{ meta.version }} · report made {{ meta.date }}{% if meta.tss %} · TSS table {{ meta.tss }}{% endif %}</td></tr>
</table>

<h2 id="summary-{{ v.index }}">Summary</h2>
<div class="summary" id="summary-text-{{ v.index }}">
{% if v.top %}
<p class="lead">The largest predicted change is a
<b class="{{ 'gain' if v.top.effect > 0 else 'loss' }}">{{ v.top.word }} {{ 'gain' if v.top.effect > 0 else 'loss' }}</b>
of <b>{{ v.top.tf }}</b> binding{% if v.top.family %} ({{ v.top.family }}){% endif %}:
calibrated effect {{ v.top.effect_s }}; score {{ v.top.ref }} → {{ v.top.alt }},
percentile {{ v.top.ref_pct }} → {{ v.top.alt_pct }} ({{ v.top.ref_pct_word }} → {{ v.top.alt_pct_word }}).
{{ v.n_big }} of {{ v.n_ranked }} models change by 3 or more null spreads ({{ v.n_big_gain }} gains, {{ v.n_big_loss }} losses).
{% if v.families %}TF families among the {{ v.n_family }} largest changes:
{% for fam, g, l in v.families %}{{ fam }} ({% if g %}{{ g }} gain{{ 's' if g != 1 }}{% endif %}{% if g and l %}, {% endif %}{% if l %}{{ l }} loss{{ 'es' if l != 1 }}{% endif %}){% if not loop.last %}; {% endif %}{% endfor %}.{% endif %}</p>
{% else %}
<p class="lead">No model of this panel has a null distribution, so effects cannot be compared between models.</p>
{% endif %}
{% for kind, rows in (("gains", v.gains), ("losses", v.losses)) %}
<h3>Strongest predicted {{ kind }} of binding</h3>
{% if rows %}
<table class="top" id="top-{{ kind }}-{{ v.index }}">
<tr><th>TF</th><th>Family</th><th>Model</th><th>Calibrated effect</th><th>Ref score (pct)</th><th>Alt score (pct)</th><th>In words</th></tr>
{% for r in rows %}
<tr class="top-{{ kind }}" data-tf="{{ r.tf }}" data-family="{{ r.family }}" data-model="{{ r.model }}">
<td><b>{{ r.tf }}</b></td><td>{{ r.family or '—' }}</td><td>{{ r.model }}</td>
<td class="n {{ 'gain' if r.effect > 0 else 'loss' }}">{{ r.effect_s }}</td>
<td class="n">{{ r.ref }} ({{ r.ref_pct }})</td><td class="n">{{ r.alt }} ({{ r.alt_pct }})</td>
<td>{{ r.word }}; {{ r.ref_pct_word }} → {{ r.alt_pct_word }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="note">No model predicts a {{ kind[:-1] if kind == 'gains' else 'loss' }}.</p>{% endif %}
{% endfor %}
<h3>Other evidence</h3>
<ul>
{% if v.deepfind %}
<li id="deepfind-{{ v.index }}"><b>DeepFind probability {{ v.deepfind.probability|num(2) }}</b>
({{ v.deepfind.kind }} classifier on the scores of {% if v.deepfind.panel %}the {{ v.deepfind.panel }} panel's {{ v.deepfind.n_models }} models{% else %}its panel{% endif %}{{ ', the distance to the nearest TSS and transversion' if v.deepfind.feature_set != 'scores' else ' only (give a TSS table to add the distance feature)' }}).
It estimates how much this promoter SNV resembles simulated (deleterious-like) variants rather than common derived
alleles; 0.5 is the point where the balanced-trained classifier favours neither.
{% if v.deepfind.test_auc %}On held-out chromosomes {{ v.deepfind.test_chromosomes|join(', ') }} its AUC is
{{ v.deepfind.test_auc|num(3) }}: it ranks a deleterious-like SNV above a benign-like one
{{ (100 * v.deepfind.test_auc)|round|int }}% of the time (0.5 is chance, 1.0 perfect), so on its own it is weak evidence.{% endif %}</li>
{% else %}
<li class="note">No DeepFind probability: {{ 'DeepFind scores single-base substitutions only' if v.v.ref|length != 1 or v.v.alt|length != 1 else 'no DeepFind model ships for this panel or selection of it' }}.</li>
{% endif %}
{% if v.tss %}
<li id="tss-{{ v.index }}">Nearest transcription start site: <b>{{ v.tss.gene }}</b> ({{ v.tss.strand }} strand{% if v.tss.gene_type %}, {{ v.tss.gene_type }}{% endif %}) at {{ v.v.chrom }}:{{ '{:,}'.format(v.tss.position) }};
the variant lies {{ '{:,}'.format(v.tss.distance|abs) }} bp {{ 'upstream of' if v.tss.distance < 0 else 'downstream of' if v.tss.distance > 0 else 'at' }} it.</li>
{% elif meta.tss %}
<li class="note">The TSS table has no transcription start site on {{ v.v.chrom }}.</li>
{% else %}
<li class="note">No TSS table given (--tss): nearest gene not reported.</li>
{% endif %}
</ul>
</div>

{% if v.models %}
<h2>Evidence for the top {{ v.models|length }} model{{ 's' if v.models|length != 1 }}</h2>
<p class="note">Ranked by the size of the calibrated effect. Each mutation map shows the wild-type sequence (left)
and the mutant (right): letter height is how much each base matters to the model (the largest loss of score any
change of that base causes); the cells below show the score change of every possible substitution (red gain,
blue loss). The red triangle marks the variant.</p>
{% for m in v.models %}
<div class="model" id="model-{{ v.index }}-{{ loop.index }}">
<h3>{{ loop.index }}. {{ m.row.tf }} <span class="note">{{ m.id }}{% if m.row.family %} · {{ m.row.family }}{% endif %}</span>
 · <span class="{{ 'gain' if m.row.effect > 0 else 'loss' }}">calibrated effect {{ m.row.effect_s }} ({{ m.row.word }})</span></h3>
{% if m.maps %}
<figure><img src="{{ m.maps }}" alt="wild-type and mutant mutation maps of {{ m.id }}">
<figcaption>Wild type (score {{ m.row.ref }}, percentile {{ m.row.ref_pct }}) and mutant (score {{ m.row.alt }}, percentile {{ m.row.alt_pct }}).</figcaption></figure>
{% else %}<p class="note">No mutation map: the variant is not a substitution.</p>{% endif %}
{% if m.logo %}
<figure><img src="{{ m.logo }}" alt="detector logos of {{ m.id }}">
<figcaption>Detector logos: the DNA words each of the model's detectors responds to most, from 5,000 random sequences.</figcaption></figure>
{% endif %}
<table class="prov">
{% for label, value in m.provenance %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}
{% if not m.provenance %}<tr><td class="note">The panel's catalogue holds no provenance for this model.</td></tr>{% endif %}
</table>
</div>
{% endfor %}
{% endif %}

<h2>All models</h2>
<div class="controls">
<input class="filter" type="search" placeholder="filter: TF, family or model ID" data-table="all-{{ v.index }}" data-count="count-{{ v.index }}" aria-label="filter the table">
<span id="count-{{ v.index }}" class="note">{{ v.rows|length }} of {{ v.rows|length }} models</span>
<a href="{{ v.tsv }}" download="{{ v.tsv_name }}" id="tsv-{{ v.index }}">Download the table (TSV)</a>
<span class="note">Click a column header to sort.</span>
</div>
<div class="scroll">
<table class="all" id="all-{{ v.index }}">
<thead><tr>{% for c, head, kind in columns %}<th data-kind="{{ kind }}">{{ head }}</th>{% endfor %}</tr></thead>
<tbody>
{% for r in v.rows %}<tr>{% for c, head, kind in columns %}{% if kind == 'num' %}<td class="n" data-v="{{ r[c][0] }}">{{ r[c][1] }}</td>{% else %}<td>{{ r[c] }}</td>{% endif %}{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
</div>

<h2>How to read this page, and its limits</h2>
<ul class="caveats">
{% for c in caveats %}<li>{{ c }}</li>{% endfor %}
<li>Words used for calibrated effects: {% for lo, w in effect_words %}{{ w }} (|effect| ≥ {{ lo }}){% if not loop.last %}, {% endif %}{% endfor %};
for percentiles: {% for lo, w in pct_words %}{{ w }} (≥ {{ lo }}){% if not loop.last %}, {% endif %}{% endfor %}.</li>
</ul>
</section>
{% endfor %}
<script>""" + SCRIPT_BODY + """</script>
</body>
</html>
"""
