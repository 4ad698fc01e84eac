// Quickstart with GCS (Du et al., 2018): quickstart.jsonnet (citation_intent, MiniLM, TAPT,
// final fine-tuning) with auxiliary gradients gated by their cosine with the end-task's
// training gradient instead of uniform weights. Same ext-vars.

(import 'quickstart.jsonnet') + {
  description: std.strReplace(super.description, 'MT-TARTAN', 'GCS (Du et al., 2018)'),
  weighter: { type: 'gcs' },
}
