// MT-TARTAN on chemprot: the end-task multitasked with masked-LM auxiliary tasks under uniform weights.
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch').
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';

paper('chemprot', aux=['tapt', 'dapt'], weighter={ type: 'uniform' }, model=ext.get('model', 'roberta-base'))
