// Quickstart with uncertainty weighting (Kendall et al., 2018): quickstart.jsonnet (citation_intent, small from-scratch
// encoder, TAPT and DAPT) with task weights from learned log-variances
// instead of uniform weights. Ext-vars: as in quickstart.jsonnet.

(import 'quickstart.jsonnet') + {
  description: 'uncertainty weighting (Kendall et al., 2018) quickstart on citation_intent with a small from-scratch encoder',
  weighter: { type: 'uncertainty' },
}
