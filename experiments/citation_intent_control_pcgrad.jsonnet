// Control under PCGrad (Yu et al., 2020): citation_intent_control_mt.jsonnet with conflicting task
// gradients projected off each other (all pairs, random order): does PCGrad turn the random-labels
// task down? Ext-vars: steps (default 600) and aux, as in quickstart.jsonnet.

(import 'citation_intent_control_mt.jsonnet') + {
  description: 'PCGrad (Yu et al., 2020) on citation_intent with a random-labels control task',
  weighter: { type: 'pcgrad' },
}
