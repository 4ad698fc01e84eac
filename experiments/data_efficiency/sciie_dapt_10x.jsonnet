// Section 5.2 / Figure 2 at n = 10 x |Train|: DAPT then fine-tuning on sciie, with the 10x domain corpus
// (domain.10xTAPT.txt, not in the shared data; place it at $TARTAN_DATA/sciie/). Compare with the 1x
// runs of ../sciie_dapt.jsonnet and with sciie_dapt_mt_10x / sciie_dapt_meta_10x.
// Ext-vars: model (default roberta-base).
local baselines = import 'tartan_fw/baselines.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

baselines.dapt('sciie', ext.get('model', 'roberta-base'), 'sciie/domain.10xTAPT.txt', 10)
