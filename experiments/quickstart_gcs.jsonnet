// Quickstart with GCS (Du et al., 2018): quickstart.jsonnet (citation_intent, small from-scratch
// encoder, TAPT and DAPT) with auxiliary gradients gated by their cosine with the end-task's training gradient
// instead of uniform weights. Ext-vars: as in quickstart.jsonnet.

(import 'quickstart.jsonnet') + {
  description: 'GCS (Du et al., 2018) quickstart on citation_intent with a small from-scratch encoder',
  weighter: { type: 'gcs' },
}
