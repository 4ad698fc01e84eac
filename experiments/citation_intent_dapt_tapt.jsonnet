// DAPT+TAPT on citation_intent: domain masked-LM pretraining, then TAPT, then fine-tuning, each stage starting from the
// previous stage's body, in one pipeline run. Ext-vars: model (default roberta-base), dapt_corpus (default
// the 1x domain corpus), dapt_size (the corpus in |Train| units, default 1).
local baselines = import 'tartan_fw/baselines.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

baselines.dapt_tapt('citation_intent', ext.get('model', 'roberta-base'), ext.get('dapt_corpus', null), ext.number('dapt_size', 1))
