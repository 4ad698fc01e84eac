// META-TARTAN on hyperpartisan: the end-task multitasked with masked-LM auxiliary tasks under task weights
// meta-learned from the end-task's dev gradient. Differs from hyperpartisan_mt.jsonnet only in the weighter.
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch'), weight_lr (default 0.01, the released code's).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';
local lib = import 'tartan_fw/tartan.libsonnet';

// The dev split has 63 examples: phi*'s 32 leave 31 to score, kept apart (the released code scores 64
// drawn independently of phi*'s, so they would share about 32 rows).
local weighter = lib.meta_weighter({ dev_batch_size: 31 } + ext.given(['weight_lr']));

paper('hyperpartisan', aux=['tapt'], weighter=weighter, model=ext.get('model', 'roberta-base'))
