// Quickstart with PCGrad (Yu et al., 2020): quickstart.jsonnet (citation_intent, small from-scratch
// encoder, TAPT and DAPT) with conflicting task gradients projected off each other (all pairs, random order)
// instead of uniform weights. Ext-vars: as in quickstart.jsonnet.

(import 'quickstart.jsonnet') + {
  description: 'PCGrad (Yu et al., 2020) quickstart on citation_intent with a small from-scratch encoder',
  weighter: { type: 'pcgrad' },
}
