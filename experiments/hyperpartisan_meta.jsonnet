// META-TARTAN on hyperpartisan: the end-task multitasked with masked-LM auxiliary tasks under task weights
// meta-learned from the end-task's dev gradient. Differs from hyperpartisan_mt.jsonnet only in the weighter.
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch'), weight_lr (default 0.1).
local ext = import 'lib/ext.libsonnet';
local paper = import 'lib/paper.libsonnet';
local lib = import 'lib/tartan.libsonnet';

paper('hyperpartisan', aux=['tapt'], weighter=lib.meta_weighter(ext.number('weight_lr', 0.1)), model=ext.get('model', 'roberta-base'))
