// uncertainty weighting (Kendall et al., 2018) on chemprot: the end-task multitasked with masked-LM auxiliary tasks,
// task weights from learned log-variances.
// Differs from chemprot_mt.jsonnet only in the weighter.
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch').
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

paper('chemprot', aux=['tapt', 'dapt'], weighter={ type: 'uncertainty' }, model=ext.get('model', 'roberta-base'))
