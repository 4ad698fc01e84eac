// Quickstart with uncertainty weighting (Kendall et al., 2018): quickstart.jsonnet (citation_intent, MiniLM, TAPT,
// final fine-tuning) with task weights from learned log-variances instead of uniform weights. Same ext-vars.

(import 'quickstart.jsonnet') + {
  description: std.strReplace(super.description, 'MT-TARTAN', 'uncertainty weighting (Kendall et al., 2018)'),
  weighter: { type: 'uncertainty' },
}
