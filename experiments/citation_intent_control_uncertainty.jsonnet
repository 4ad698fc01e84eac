// Control under uncertainty weighting (Kendall et al., 2018): citation_intent_control_mt.jsonnet with
// task weights from learned log-variances: does it turn the random-labels task down? Ext-vars:
// steps (default 600) and aux, as in quickstart.jsonnet.

(import 'citation_intent_control_mt.jsonnet') + {
  description: 'uncertainty weighting (Kendall et al., 2018) on citation_intent with a random-labels control task',
  weighter: { type: 'uncertainty' },
}
