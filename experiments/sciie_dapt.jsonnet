// DAPT on sciie: masked-LM pretraining on domain text, then fine-tuning from that body, in one pipeline run.
// The domain corpus defaults to the 1x one (n = |Train|, section 5.2); for the 10x setting pass
// --ext-var dapt_corpus=sciie/domain.10xTAPT.txt --ext-var dapt_size=10 (see data_efficiency/).
// Ext-vars: model (default roberta-base), dapt_corpus, dapt_size (the corpus in |Train| units, default 1).
local baselines = import 'tartan_fw/baselines.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

baselines.dapt('sciie', ext.get('model', 'roberta-base'), ext.get('dapt_corpus', null), ext.number('dapt_size', 1))
