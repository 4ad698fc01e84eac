// META-TARTAN on citation_intent: the end-task multitasked with masked-LM auxiliary tasks under task weights
// meta-learned from the end-task's dev gradient. Differs from citation_intent_mt.jsonnet only in the weighter.
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch'), weight_lr (default 0.01, the released code's).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';
local lib = import 'tartan_fw/tartan.libsonnet';

paper('citation_intent', aux=['tapt', 'dapt'], weighter=lib.meta_weighter(ext.given(['weight_lr'])), model=ext.get('model', 'roberta-base'))
