// TAPT on chemprot: masked-LM pretraining on the task's own text, then fine-tuning from that body, in one
// pipeline run (stages tapt/ and finetune/ of the run directory). Ext-vars: model (default roberta-base).
local baselines = import 'tartan_fw/baselines.libsonnet';
local ext = import 'tartan_fw/ext.libsonnet';

baselines.tapt('chemprot', ext.get('model', 'roberta-base'))
