// GCS (Du et al., 2018) on sciie: the end-task multitasked with masked-LM auxiliary tasks,
// auxiliary gradients gated by their cosine with the end-task's training gradient.
// Differs from sciie_mt.jsonnet only in the weighter.
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch').
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

paper('sciie', aux=['tapt', 'dapt'], weighter={ type: 'gcs' }, model=ext.get('model', 'roberta-base'))
