// PCGrad (Yu et al., 2020) on citation_intent: the end-task multitasked with masked-LM auxiliary tasks,
// conflicting task gradients projected off each other (all pairs, random order).
// Differs from citation_intent_mt.jsonnet only in the weighter.
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch').
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

paper('citation_intent', aux=['tapt', 'dapt'], weighter={ type: 'pcgrad' }, model=ext.get('model', 'roberta-base'))
