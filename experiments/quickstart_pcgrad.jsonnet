// Quickstart with PCGrad (Yu et al., 2020): quickstart.jsonnet (citation_intent, MiniLM, TAPT,
// final fine-tuning) with conflicting task gradients projected off each other (all pairs,
// random order) instead of uniform weights. Same ext-vars.

(import 'quickstart.jsonnet') + {
  description: std.strReplace(super.description, 'MT-TARTAN', 'PCGrad (Yu et al., 2020)'),
  weighter: { type: 'pcgrad' },
}
