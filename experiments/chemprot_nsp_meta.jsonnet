// META-TARTAN on chemprot with next sentence prediction added to TAPT and DAPT masked-LM: does the
// end-task's dev gradient find a use for NSP (the question of the paper's conclusion)? Differs from
// chemprot_nsp_mt.jsonnet only in the weighter; its weights/nsp trajectory is the answer.
// Ext-vars: model (default roberta-base; a hub name, a local directory, or 'scratch'), weight_lr (default 0.01, the released code's).
local ext = import 'tartan_fw/ext.libsonnet';
local paper = import 'tartan_fw/paper.libsonnet';
local lib = import 'tartan_fw/tartan.libsonnet';

paper('chemprot', aux=['tapt', 'dapt', 'nsp'], weighter=lib.meta_weighter(ext.given(['weight_lr'])),
      model=ext.get('model', 'roberta-base'))
