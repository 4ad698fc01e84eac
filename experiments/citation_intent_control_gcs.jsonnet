// Control under GCS (Du et al., 2018): citation_intent_control_mt.jsonnet with auxiliary gradients
// gated by their cosine with the end-task's training gradient: does GCS turn the random-labels task
// down? Ext-vars: steps (default 600) and aux, as in quickstart.jsonnet.

(import 'citation_intent_control_mt.jsonnet') + {
  description: 'GCS (Du et al., 2018) on citation_intent with a random-labels control task',
  weighter: { type: 'gcs' },
}
