// Section 5.2 / Figure 2 at n = 10 x |Train|: DAPT then fine-tuning on citation_intent, with the 10x domain corpus
// (domain.10xTAPT.txt, not in the shared data; place it at $TARTAN_DATA/citation_intent/). Compare with the 1x
// runs of ../citation_intent_dapt.jsonnet and with citation_intent_dapt_mt_10x / citation_intent_dapt_meta_10x.
// Ext-vars: model (default roberta-base).
local baselines = import 'tartan_fw/baselines.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

baselines.dapt('citation_intent', ext.get('model', 'roberta-base'), 'citation_intent/domain.10xTAPT.txt', 10)
